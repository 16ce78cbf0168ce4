{#
    The detectors' features as bar_features_per_second, bar_features_per_minute and bar_features compute
    them, defined once here.

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
