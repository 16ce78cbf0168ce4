{#
    R4_NO_NAN (critical): the checked values are never NULL or NaN: open, high, low and close, or the
    attachment's value_columns (a context series' own values: funding_rate, open_interest).
    Bars keep a NaN trade visible (bars_1s makes high and low NaN), so aggregation cannot hide it.

    Arguments:
      value_columns  (optional) the columns to check; default [open, high, low, close]

    Example:
      data_tests:
        - r4_no_nan
        - r4_no_nan:
            arguments:
              value_columns: [funding_rate, open_interest]
#}
{% macro lakeqa_r4_no_nan_failures(model, value_columns=none) %}
    {% set columns = value_columns if value_columns is not none else ['open', 'high', 'low', 'close'] %}
    {% if columns is string or columns | length == 0 %}
        {{ exceptions.raise_compiler_error("r4_no_nan: value_columns must be a non-empty list of column names") }}
    {% endif %}
    {% set missing = [] %}
    {% set shown = [] %}
    {% for column in columns %}
        {% do missing.append(adapter.quote(column) ~ ' is null or isnan(' ~ adapter.quote(column) ~ ')') %}
        {% do shown.append(lakeqa_sql_string(column ~ ' ') ~ ' || ' ~ lakeqa_num(adapter.quote(column))) %}
    {% endfor %}
    {% set label = 'missing price: ' if value_columns is none else 'missing value: ' %}
    {{ lakeqa_rule_failures_select(
        'r4_no_nan', model,
        where=missing | join(' or '),
        detail=lakeqa_sql_string(label) ~ " || " ~ shown | join(" || ', ' || "),
        sample_columns=columns) }}
{% endmacro %}

{% test r4_no_nan(model, value_columns=none) %}
    {{ config(severity=lakeqa_rule_test_severity('r4_no_nan')) }}
    {{ return(adapter.dispatch('test_r4_no_nan', 'lakeqa')(model, value_columns)) }}
{% endtest %}

{% macro default__test_r4_no_nan(model, value_columns=none) %}
with validation_errors as (
    {{ lakeqa_r4_no_nan_failures(model, value_columns) }}
)
select * from validation_errors
{% endmacro %}
