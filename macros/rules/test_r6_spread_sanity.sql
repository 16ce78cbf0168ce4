{#
    R6_SPREAD_SANITY (major): spread_bps = (ask - bid) / mid * 10000 stays below var rule_max_spread_bps
    (default 500). A crossed book (negative spread) is R3's.

    Arguments:
      max_spread_bps  optional override of the var

    Example:
      data_tests:
        - r6_spread_sanity
#}
{% macro lakeqa_r6_spread_sanity_failures(model, max_spread_bps=none) %}
    {% set limit = (max_spread_bps if max_spread_bps is not none else lakeqa_setting('rule_max_spread_bps')) %}
    {% if limit is not number and not (limit | string | float) %}
        {{ exceptions.raise_compiler_error("r6_spread_sanity: max_spread_bps must be a positive number, got " ~ limit) }}
    {% endif %}
    {% set limit = limit | float %}
    {% if limit <= 0 %}
        {{ exceptions.raise_compiler_error("r6_spread_sanity: max_spread_bps must be a positive number, got " ~ limit) }}
    {% endif %}
    {{ lakeqa_rule_failures_select(
        'r6_spread_sanity', model,
        where="spread_bps >= " ~ limit,
        detail="'spread ' || " ~ lakeqa_num('round(spread_bps, 2)') ~ " || ' bps is not below ' || " ~ lakeqa_num(limit) ~ " || ' bps (bid ' || "
               ~ lakeqa_num('bid') ~ " || ', ask ' || " ~ lakeqa_num('ask') ~ " || ')'",
        sample_columns=['bid', 'ask', 'spread_bps']) }}
{% endmacro %}

{% test r6_spread_sanity(model, max_spread_bps=none) %}
    {{ config(severity=lakeqa_rule_test_severity('r6_spread_sanity')) }}
    {{ return(adapter.dispatch('test_r6_spread_sanity', 'lakeqa')(model, max_spread_bps)) }}
{% endtest %}

{% macro default__test_r6_spread_sanity(model, max_spread_bps=none) %}
with validation_errors as (
    {{ lakeqa_r6_spread_sanity_failures(model, max_spread_bps) }}
)
select * from validation_errors
{% endmacro %}
