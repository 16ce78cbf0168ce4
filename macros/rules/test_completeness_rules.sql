{#
    The completeness rules C1-C10: each a generic test over `completeness_checks`, where every check is
    measured once as a value and its limit (models/marts/completeness/completeness_checks.sql). A rule's
    failing rows are the checks of its name whose measured_value exceeds limit_value; the detail there
    names the failure, its UTC time range and its size. The catalog (lakeqa_rule_catalog) holds each
    rule's id, severity and settings; the yml attaches each test to completeness_checks.

    Example:
      - name: completeness_checks
        data_tests:
          - c1_trade_gap
#}
{% macro lakeqa_completeness_failures(model, test_name) %}
    select
        symbol,
        ts,
        ts_end,
        '{{ lakeqa_rule(test_name).rule_id }}' as rule,
        detail,
        row_sample
    from {{ model }}
    where {{ lakeqa_in_window('ts') }}
        and check_name = '{{ test_name }}'
        and measured_value > limit_value
        and mode = '{{ lakeqa_window().mode }}'
{% endmacro %}

{% macro default__test_lakeqa_completeness(model, test_name) %}
with validation_errors as (
    select * from ({{ lakeqa_completeness_failures(model, test_name) }})
)
select * from validation_errors
{% endmacro %}

{% test c1_trade_gap(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c1_trade_gap')) }}
    {{ return(adapter.dispatch('test_c1_trade_gap', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c1_trade_gap(model) %}{{ default__test_lakeqa_completeness(model, 'c1_trade_gap') }}{% endmacro %}

{% test c2_quote_gap(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c2_quote_gap')) }}
    {{ return(adapter.dispatch('test_c2_quote_gap', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c2_quote_gap(model) %}{{ default__test_lakeqa_completeness(model, 'c2_quote_gap') }}{% endmacro %}

{% test c3_kline_witness(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c3_kline_witness')) }}
    {{ return(adapter.dispatch('test_c3_kline_witness', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c3_kline_witness(model) %}{{ default__test_lakeqa_completeness(model, 'c3_kline_witness') }}{% endmacro %}

{% test c4_missing_dataset(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c4_missing_dataset')) }}
    {{ return(adapter.dispatch('test_c4_missing_dataset', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c4_missing_dataset(model) %}{{ default__test_lakeqa_completeness(model, 'c4_missing_dataset') }}{% endmacro %}

{% test c5_row_drop(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c5_row_drop')) }}
    {{ return(adapter.dispatch('test_c5_row_drop', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c5_row_drop(model) %}{{ default__test_lakeqa_completeness(model, 'c5_row_drop') }}{% endmacro %}

{% test c6_null_share(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c6_null_share')) }}
    {{ return(adapter.dispatch('test_c6_null_share', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c6_null_share(model) %}{{ default__test_lakeqa_completeness(model, 'c6_null_share') }}{% endmacro %}

{% test c7_stale_book(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c7_stale_book')) }}
    {{ return(adapter.dispatch('test_c7_stale_book', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c7_stale_book(model) %}{{ default__test_lakeqa_completeness(model, 'c7_stale_book') }}{% endmacro %}

{% test c8_clock_offset(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c8_clock_offset')) }}
    {{ return(adapter.dispatch('test_c8_clock_offset', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c8_clock_offset(model) %}{{ default__test_lakeqa_completeness(model, 'c8_clock_offset') }}{% endmacro %}

{% test c9_price_scale(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c9_price_scale')) }}
    {{ return(adapter.dispatch('test_c9_price_scale', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c9_price_scale(model) %}{{ default__test_lakeqa_completeness(model, 'c9_price_scale') }}{% endmacro %}

{% test c10_quarantined_file(model) %}
    {{ config(severity=lakeqa_rule_test_severity('c10_quarantined_file')) }}
    {{ return(adapter.dispatch('test_c10_quarantined_file', 'lakeqa')(model)) }}
{% endtest %}
{% macro default__test_c10_quarantined_file(model) %}{{ default__test_lakeqa_completeness(model, 'c10_quarantined_file') }}{% endmacro %}
