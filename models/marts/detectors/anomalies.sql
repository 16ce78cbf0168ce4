{# grain: one row per detector record: a bar flagged by a z-score detector or IFOREST, or a (clustered) JUMP #}
{#
    On the spark target anomalies_zscore and anomalies_jump are SQL models (models/detectors/spark/) and
    there is no anomalies_iforest: dbt-spark runs Python models on Databricks only (dbt-spark#415).
#}
{% set window = lakeqa_window() %}
{% set detector_models = ['anomalies_zscore', 'anomalies_jump'] %}
{% if target.type != 'spark' %}{% do detector_models.append('anomalies_iforest') %}{% endif %}

with

{% for detector_model in detector_models %}
{{ detector_model }} as (

    select * from {{ ref(detector_model) }}

),

{% endfor %}
all_anomalies as (

    {% for detector_model in detector_models %}
    select
        symbol,
        ts,
        detector,
        label,
        rationale,
        confidence,
        score,
        features,
        cluster,
        baseline,
        exceeds_background
    from {{ detector_model }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
        cast(ts as timestamp) as ts,
        cast(ts as date) as date,
        cast(detector as {{ dbt.type_string() }}) as detector,
        cast(label as {{ dbt.type_string() }}) as label,
        cast(rationale as {{ dbt.type_string() }}) as rationale,
        cast(confidence as double) as confidence,
        cast(score as double) as score,
        cast(features as {{ dbt.type_string() }}) as features,
        cast(cluster as {{ dbt.type_string() }}) as cluster,
        cast(baseline as {{ dbt.type_string() }}) as baseline,
        cast(exceeds_background as boolean) as exceeds_background
    from all_anomalies
    where ts >= {{ window.start_ts }}
        and ts < {{ window.end_ts }}

)

select * from final
