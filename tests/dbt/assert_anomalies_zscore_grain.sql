{# grain: one record per symbol, second and z-score detector (ZSCORE_SPREAD_BP, _LOG_VOLUME, _VWAP_DRIFT_BP) #}
{#
    The Python detector models' yml (python_models/detectors/_detectors__python_models.yml) carries no
    data_tests yet, so their grain test is this singular test running the same generic test macro
    (macros/tests/test_lakeqa_unique_combination.sql) that every other model's yml attaches.
    Prebuilt bars stored twice in the lake (R5 reports them) are scored twice: a warning then.
#}
{{ config(severity=('warn' if var('use_prebuilt_bars') else 'error')) }}

{{ test_lakeqa_unique_combination(model=ref('anomalies_zscore'), combination_of_columns=['symbol', 'ts', 'detector']) }}
