{# grain: one row per JUMP record: a 1-second bar, or a cluster of them within jump.cooldown_seconds #}
{#
    The spark target's anomalies_jump, where dbt-spark cannot run the Python model of the same name
    (models/detectors/anomalies_jump.py, dbt-spark#415): the same records in SQL
    (macros/detectors/lakeqa_sql_detector_records.sql).
#}
{{ config(enabled=(target.type == 'spark')) }}

{{ lakeqa_sql_detector_records('jump') }}
