{# grain: one row per detector record: a bar flagged by a z-score detector or IFOREST, or a (clustered) JUMP #}
{% set window = lakeqa_window() %}

with

zscore_anomalies as (

    select * from {{ ref('anomalies_zscore') }}

),

jump_anomalies as (

    select * from {{ ref('anomalies_jump') }}

),

iforest_anomalies as (

    select * from {{ ref('anomalies_iforest') }}

),

all_anomalies as (

    select * from zscore_anomalies
    union all by name
    select * from jump_anomalies
    union all by name
    select * from iforest_anomalies

),

final as (

    select
        cast(symbol as varchar) as symbol,
        cast(ts as timestamp) as ts,
        cast(ts as date) as date,
        cast(detector as varchar) as detector,
        cast(label as varchar) as label,
        cast(rationale as varchar) as rationale,
        cast(confidence as double) as confidence,
        cast(score as double) as score,
        cast(features as varchar) as features,
        cast(cluster as varchar) as cluster,
        cast(baseline as varchar) as baseline,
        cast(exceeds_background as boolean) as exceeds_background
    from all_anomalies
    where ts >= {{ window.start_ts }}
        and ts < {{ window.end_ts }}

)

select * from final
