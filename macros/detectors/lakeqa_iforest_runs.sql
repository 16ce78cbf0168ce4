{#
    lakeqa_iforest_runs() -> whether IsolationForest judges this run: var enable_ai, setting iforest.enabled,
    and a target that runs dbt Python models (not spark: dbt-spark submits Python models to Databricks
    only, dbt-spark#415; README "Running on Spark"). When it does not, anomalies_iforest returns no rows,
    iforest_training_bars samples none, and the fusion neither allows for its contamination nor names a
    cold start.

    lakeqa_iforest_off_reason() -> why it does not run, for the fusion's reason; none when it runs or when
    var enable_ai turned every detector off.
#}
{% macro lakeqa_iforest_runs() %}
    {{ return(var('enable_ai') and lakeqa_setting_boolean('iforest.enabled') and target.type != 'spark') }}
{% endmacro %}


{% macro lakeqa_iforest_off_reason() %}
    {% if not var('enable_ai') or lakeqa_iforest_runs() %}
        {{ return(none) }}
    {% elif target.type == 'spark' %}
        {{ return('IsolationForest off on Spark: dbt-spark runs Python models on Databricks only, dbt-spark#415') }}
    {% endif %}
    {{ return('IsolationForest off: setting iforest.enabled is false') }}
{% endmacro %}
