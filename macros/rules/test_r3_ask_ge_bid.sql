{#
    R3_ASK_GE_BID (major): ask >= bid wherever both are known (bars without a fresh quote have NULLs).
    Works on bars_1s and bars_1m (columns bid, ask).

    Example:
      data_tests:
        - r3_ask_ge_bid
#}
{% macro lakeqa_r3_ask_ge_bid_failures(model) %}
    {{ lakeqa_rule_failures_select(
        'r3_ask_ge_bid', model,
        where="ask < bid",
        detail="'crossed book: ask ' || " ~ lakeqa_num('ask') ~ " || ' is below bid ' || " ~ lakeqa_num('bid'),
        sample_columns=['bid', 'ask', 'close']) }}
{% endmacro %}

{% test r3_ask_ge_bid(model) %}
    {{ config(severity=lakeqa_rule_test_severity('r3_ask_ge_bid')) }}
    {{ return(adapter.dispatch('test_r3_ask_ge_bid', 'lakeqa')(model)) }}
{% endtest %}

{% macro default__test_r3_ask_ge_bid(model) %}
with validation_errors as (
    {{ lakeqa_r3_ask_ge_bid_failures(model) }}
)
select * from validation_errors
{% endmacro %}
