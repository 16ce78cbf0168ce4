{#
    R2_POSITIVE_PRICE (critical): open, high, low and close are all > 0.
    NULL/NaN prices are R4's. Works on bars_1s, bars_1m and klines_1m.

    Example:
      data_tests:
        - r2_positive_price
#}
{% macro lakeqa_r2_positive_price_failures(model) %}
    {{ lakeqa_rule_failures_select(
        'r2_positive_price', model,
        where="least(open, high, low, close) <= 0",
        detail="'non-positive price: lowest of open/high/low/close is ' || " ~ lakeqa_num('least(open, high, low, close)'),
        sample_columns=['open', 'high', 'low', 'close']) }}
{% endmacro %}

{% test r2_positive_price(model) %}
    {{ config(severity=lakeqa_rule_test_severity('r2_positive_price')) }}
    {{ return(adapter.dispatch('test_r2_positive_price', 'lakeqa')(model)) }}
{% endtest %}

{% macro default__test_r2_positive_price(model) %}
with validation_errors as (
    {{ lakeqa_r2_positive_price_failures(model) }}
)
select * from validation_errors
{% endmacro %}
