{#
    R4_NO_NAN (critical): open, high, low and close are never NULL or NaN.
    Bars keep a NaN trade visible (bars_1s makes high and low NaN), so aggregation cannot hide it.

    Example:
      data_tests:
        - r4_no_nan
#}
{% macro lakeqa_r4_no_nan_failures(model) %}
    {% set is_missing %}
        (open is null or isnan(open) or high is null or isnan(high)
         or low is null or isnan(low) or close is null or isnan(close))
    {% endset %}
    {{ lakeqa_rule_failures_select(
        'r4_no_nan', model,
        where=is_missing,
        detail="'missing price: open ' || " ~ lakeqa_num('open') ~ " || ', high ' || " ~ lakeqa_num('high')
               ~ " || ', low ' || " ~ lakeqa_num('low') ~ " || ', close ' || " ~ lakeqa_num('close'),
        sample_columns=['open', 'high', 'low', 'close']) }}
{% endmacro %}

{% test r4_no_nan(model) %}
    {{ config(severity=lakeqa_rule_test_severity('r4_no_nan')) }}
    {{ return(adapter.dispatch('test_r4_no_nan', 'lakeqa')(model)) }}
{% endtest %}

{% macro default__test_r4_no_nan(model) %}
with validation_errors as (
    {{ lakeqa_r4_no_nan_failures(model) }}
)
select * from validation_errors
{% endmacro %}
