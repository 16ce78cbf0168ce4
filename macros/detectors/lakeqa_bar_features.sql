{#
    The detectors' features, defined once here for the models that compute them: bar_features_per_second
    (the run's window), iforest_training_bars (IsolationForest's training days), bar_features_per_minute and
    bar_features (their trailing statistics).

    lakeqa_bar_feature_columns(window_s) -> the select items of the raw features of a 1-second bar, from a
        relation of bars_1s rows with previous_close and previous_ts (the symbol's previous bar, lag()):
        spread_bp, log_volume, vwap_drift_bp, return_1s (from the previous bar if it is at most window_s
        seconds old) and has_nonfinite_value.

    lakeqa_feature_grid() -> {feature: (fixed-point units per feature unit, clip applied in the sums only)}:
        every feature is put on a fixed-point grid (1e-6 bp, 1e-6 for log_volume, 1e-10 for return_1s) and
        the trailing partial sums are exact integers of those units, so the statistics do not depend on the
        order in which the engine's threads add rows up; the clip keeps the sums in range.
    lakeqa_zscore_features() -> the features the z-score detectors judge: they get robust trailing
        statistics (center and scale) too.
#}
{% macro lakeqa_feature_grid() %}
    {{ return({
        'spread_bp': (1000000, 100000000),
        'log_volume': (1000000, 100000000),
        'vwap_drift_bp': (1000000, 100000000),
        'return_1s': (10000000000, 1000),
    }) }}
{% endmacro %}


{% macro lakeqa_zscore_features() %}
    {{ return(['spread_bp', 'log_volume', 'vwap_drift_bp']) }}
{% endmacro %}


{% macro lakeqa_bar_feature_columns(window_s) -%}
        spread_bps as spread_bp,
        -- NaN > 0 is true in DuckDB, so a NaN volume stays NaN (and is reported as non-finite) instead of NULL
        case when volume_base > 0 then ln(volume_base) end as log_volume,
        case when vwap <> 0 then (close - vwap) / vwap * 10000 end as vwap_drift_bp,
        -- the return since the symbol's previous bar, if that bar is at most window_s old
        case
            when previous_ts >= ts - interval {{ window_s }} second and close > 0 and previous_close > 0
                then ln(close / previous_close)
        end as return_1s,
        coalesce(
            not {{ lakeqa_isfinite('open') }} or not {{ lakeqa_isfinite('high') }} or not {{ lakeqa_isfinite('low') }}
            or not {{ lakeqa_isfinite('close') }} or not {{ lakeqa_isfinite('volume_base') }}
            or not {{ lakeqa_isfinite('vwap') }} or not {{ lakeqa_isfinite('spread_bps') }},
            false
        ) as has_nonfinite_value
{%- endmacro %}
