{#
    R1_OHLC_ORDER (critical): low <= min(open, close) and max(open, close) <= high.

    Rows with a NULL or NaN price are left to R4_NO_NAN, so one bad trade is one violation, not two.
    Works on bars_1s, bars_1m and klines_1m (any relation with symbol, ts, open, high, low, close).

    Example:
      models:
        - name: bars_1s
          data_tests:
            - r1_ohlc_order
#}
{% macro lakeqa_r1_ohlc_order_failures(model) %}
    {{ lakeqa_rule_failures_select(
        'r1_ohlc_order', model,
        where="not (isnan(open) or isnan(high) or isnan(low) or isnan(close))
               and not (low <= least(open, close) and greatest(open, close) <= high)",
        detail="'OHLC out of order: open ' || " ~ lakeqa_num('open') ~ " || ', high ' || " ~ lakeqa_num('high')
               ~ " || ', low ' || " ~ lakeqa_num('low') ~ " || ', close ' || " ~ lakeqa_num('close')
               ~ " || ' (needs low <= min(open, close) and max(open, close) <= high)'",
        sample_columns=['open', 'high', 'low', 'close']) }}
{% endmacro %}

{% test r1_ohlc_order(model) %}
    {{ config(severity=lakeqa_rule_test_severity('r1_ohlc_order')) }}
    {{ return(adapter.dispatch('test_r1_ohlc_order', 'lakeqa')(model)) }}
{% endtest %}

{% macro default__test_r1_ohlc_order(model) %}
with validation_errors as (
    {{ lakeqa_r1_ohlc_order_failures(model) }}
)
select * from validation_errors
{% endmacro %}
