{#
    lakeqa_schema_score(n_critical, n_major, n_minor) -> the SQL expression of the fusion's schema score,
    1 / (1 + n_critical * fusion.critical_weight + n_major * fusion.major_weight + n_minor * fusion.minor_weight),
    over the three count expressions given. The fusion's verdict and IsolationForest's choice of training
    days (iforest_training_days) both read the schema score from here, so they cannot disagree about it.

    Example: {{ lakeqa_schema_score('n_violations_critical', 'n_violations_major', 'n_violations_minor') }}
#}
{% macro lakeqa_schema_score(n_critical, n_major, n_minor) -%}
    1.0 / (
        1
        + {{ lakeqa_setting_number('fusion.critical_weight') }} * {{ n_critical }}
        + {{ lakeqa_setting_number('fusion.major_weight') }} * {{ n_major }}
        + {{ lakeqa_setting_number('fusion.minor_weight') }} * {{ n_minor }}
    )
{%- endmacro %}


{#
    lakeqa_fails_whatever_the_detectors(n_critical, n_major, n_minor) -> a SQL boolean: the fusion verdict of a
    period with these violation counts is FAIL however few anomalies it has. That is so with any critical
    violation, or when the schema score alone keeps the score below fusion.review_score even with a perfect
    detector score and AI confidence (both 1): weight_schema * schema_score + weight_detector + weight_ai
    < review_score. With the defaults (0.7, 0.2, 0.1, review 0.65) that is a schema score below 0.5.

    Example: {{ lakeqa_fails_whatever_the_detectors('n_critical', 'n_major', 'n_minor') }} as is_certain_fail
#}
{% macro lakeqa_fails_whatever_the_detectors(n_critical, n_major, n_minor) -%}
    (
        {{ n_critical }} > 0
        or {{ lakeqa_setting_number('fusion.weight_schema') }} * {{ lakeqa_schema_score(n_critical, n_major, n_minor) }}
        + {{ lakeqa_setting_number('fusion.weight_detector') }} + {{ lakeqa_setting_number('fusion.weight_ai') }}
        < {{ lakeqa_setting_number('fusion.review_score') }}
    )
{%- endmacro %}
