{#
    R7_KLINE_PARITY (minor): our 1m bar equals the exchange kline. Reads compare_our_vs_kline_1m, where
    is_match already applies the tolerance vars; a minute with no exchange klines that day (is_match NULL)
    cannot be reconciled and is not a violation.

    Example:
      models:
        - name: compare_our_vs_kline_1m
          data_tests:
            - r7_kline_parity
#}
{% macro lakeqa_r7_kline_parity_failures(model) %}
    {% set detail %}
        case presence
            when 'ours_only' then 'minute missing from the exchange klines: our bar has '
                || our_trade_count || ' trades, volume ' || {{ lakeqa_num('our_volume') }}
            when 'exchange_only' then 'minute missing from our bars: the exchange has '
                || coalesce(cast(kline_trade_count as {{ dbt.type_string() }}), '?') || ' trades, volume ' || {{ lakeqa_num('kline_volume') }}
            else 'our bar differs from the exchange kline: ' || concat_ws(', ',
                case when open_diff_bps is distinct from 0 then 'open ' || {{ lakeqa_num('our_open') }} || ' vs ' || {{ lakeqa_num('kline_open') }} end,
                case when high_diff_bps is distinct from 0 then 'high ' || {{ lakeqa_num('our_high') }} || ' vs ' || {{ lakeqa_num('kline_high') }} end,
                case when low_diff_bps is distinct from 0 then 'low ' || {{ lakeqa_num('our_low') }} || ' vs ' || {{ lakeqa_num('kline_low') }} end,
                case when close_diff_bps is distinct from 0 then 'close ' || {{ lakeqa_num('our_close') }} || ' vs ' || {{ lakeqa_num('kline_close') }} end,
                case when volume_rel_diff is distinct from 0 then 'volume ' || {{ lakeqa_num('our_volume') }} || ' vs ' || {{ lakeqa_num('kline_volume') }} end,
                case when trade_count_diff is distinct from 0 then 'trades ' || our_trade_count || ' vs ' || kline_trade_count end)
        end
    {% endset %}
    {{ lakeqa_rule_failures_select(
        'r7_kline_parity', model,
        where="is_match = false",
        detail=detail,
        sample_columns=['presence', 'our_open', 'kline_open', 'our_high', 'kline_high', 'our_low', 'kline_low',
                        'our_close', 'kline_close', 'our_volume', 'kline_volume', 'our_trade_count', 'kline_trade_count']) }}
{% endmacro %}

{% test r7_kline_parity(model) %}
    {{ config(severity=lakeqa_rule_test_severity('r7_kline_parity')) }}
    {{ return(adapter.dispatch('test_r7_kline_parity', 'lakeqa')(model)) }}
{% endtest %}

{% macro default__test_r7_kline_parity(model) %}
with validation_errors as (
    {{ lakeqa_r7_kline_parity_failures(model) }}
)
select * from validation_errors
{% endmacro %}
