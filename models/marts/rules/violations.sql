{# grain: one row per rule violation (a gap is one row with its start and end) #}
{#
    Every rule's failing rows come from the same macros that the rule's dbt test runs (macros/rules/),
    so a violation here and a failing test row are one and the same thing.
#}

with

rule_catalog as (

    select * from {{ ref('rule_catalog') }}

),

bars_1s_violations as (

    {% set bars_1s = ref('bars_1s') %}
    {% set activity = ref('int_symbol_activity_seconds') %}
    {{ lakeqa_r1_ohlc_order_failures(bars_1s) }}
    union all {{ lakeqa_r2_positive_price_failures(bars_1s) }}
    union all {{ lakeqa_r3_ask_ge_bid_failures(bars_1s) }}
    union all {{ lakeqa_r4_no_nan_failures(bars_1s) }}
    union all select * from ({{ lakeqa_r5_continuity_failures(bars_1s, 'activity', 'second', activity) }})
    union all {{ lakeqa_r6_spread_sanity_failures(bars_1s) }}
    union all {{ lakeqa_neg_volume_failures(bars_1s, ['volume_base', 'volume_quote']) }}

),

bars_1m_violations as (

    {% set bars_1m = ref('bars_1m') %}
    {{ lakeqa_r1_ohlc_order_failures(bars_1m) }}
    union all {{ lakeqa_r2_positive_price_failures(bars_1m) }}
    union all {{ lakeqa_r3_ask_ge_bid_failures(bars_1m) }}
    union all {{ lakeqa_r4_no_nan_failures(bars_1m) }}
    union all select * from ({{ lakeqa_r5_continuity_failures(bars_1m, 'activity', 'minute', activity) }})
    union all {{ lakeqa_r6_spread_sanity_failures(bars_1m) }}
    union all {{ lakeqa_neg_volume_failures(bars_1m, ['volume_base', 'volume_quote']) }}

),

klines_1m_violations as (

    {% set klines_1m = ref('klines_1m') %}
    {{ lakeqa_r1_ohlc_order_failures(klines_1m) }}
    union all {{ lakeqa_r2_positive_price_failures(klines_1m) }}
    union all {{ lakeqa_r4_no_nan_failures(klines_1m) }}
    union all select * from ({{ lakeqa_r5_continuity_failures(klines_1m, 'minutes', 'minute') }})
    union all {{ lakeqa_neg_volume_failures(klines_1m, ['volume', 'quote_volume']) }}

),

comparison_violations as (

    {{ lakeqa_r7_kline_parity_failures(ref('compare_our_vs_kline_1m')) }}

),

all_violations as (

    select *, 'bars_1s' as source_table from bars_1s_violations
    union all
    select *, 'bars_1m' as source_table from bars_1m_violations
    union all
    select *, 'klines_1m' as source_table from klines_1m_violations
    union all
    select *, 'compare_our_vs_kline_1m' as source_table from comparison_violations

),

final as (

    select
        all_violations.symbol,
        all_violations.ts,
        all_violations.ts_end,
        cast(all_violations.ts as date) as date,
        all_violations.rule,
        rule_catalog.severity,
        all_violations.source_table,
        all_violations.detail,
        all_violations.row_sample
    from all_violations
    inner join rule_catalog on all_violations.rule = rule_catalog.rule_id

)

select * from final
order by symbol, ts, source_table, rule
