{# grain: one row per symbol per minute that has at least one 1-second bar #}

with

bars_1s as (

    select * from {{ ref('bars_1s') }}
    where ts >= {{ lakeqa_window().start_ts }}
        and ts < {{ lakeqa_window().end_ts }}

),

bars_aggregated_to_minutes as (

    select
        symbol,
        date_trunc('minute', ts) as ts,
        {{ lakeqa_arg_min('open', 'ts') }} as open,
        {{ lakeqa_arg_max('close', 'ts') }} as close,
        max(high) as max_high,
        min(low) as min_low,
        -- keep a NaN or NULL from any second visible to R4 (min() would skip a NaN)
        bool_or(
            high is null or isnan(high) or low is null or isnan(low)
            or open is null or isnan(open) or close is null or isnan(close)
        ) as has_missing_price,
        -- exact sums, for the same bytes on every rebuild (macros/lake/lakeqa_exact_sum.sql)
        {{ lakeqa_exact_sum('volume_base') }} as volume_base,
        {{ lakeqa_exact_sum('volume_quote') }} as volume_quote,
        cast(sum(trade_count) as bigint) as trade_count,
        {{ lakeqa_exact_sum('vwap * volume_base') }} as price_qty_sum,
        -- the book of the minute's last traded second
        {{ lakeqa_arg_max('bid', 'ts') }} as bid,
        {{ lakeqa_arg_max('ask', 'ts') }} as ask,
        {{ lakeqa_arg_max('spread', 'ts') }} as spread,
        {{ lakeqa_arg_max('spread_bps', 'ts') }} as spread_bps
    from bars_1s
    group by symbol, date_trunc('minute', ts)

),

final as (

    select
        symbol,
        ts,
        cast(ts as date) as date,
        open,
        case when has_missing_price then cast('nan' as double) else max_high end as high,
        case when has_missing_price then cast('nan' as double) else min_low end as low,
        close,
        volume_base,
        volume_quote,
        trade_count,
        price_qty_sum / nullif(volume_base, 0) as vwap,
        bid,
        ask,
        spread,
        spread_bps
    from bars_aggregated_to_minutes

)

select * from final
