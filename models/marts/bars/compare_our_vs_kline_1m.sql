{# grain: one row per symbol per minute present in our bars_1m, the exchange's klines_1m, or both #}

with

our_minutes as (

    select * from {{ ref('bars_1m') }}
    where ts >= {{ lakeqa_window().start_ts }}
        and ts < {{ lakeqa_window().end_ts }}

),

exchange_minutes as (

    select * from {{ ref('klines_1m') }}
    where ts >= {{ lakeqa_window().start_ts }}
        and ts < {{ lakeqa_window().end_ts }}

),

-- symbol-days for which the exchange delivered klines at all: without them nothing can be reconciled
exchange_symbol_days as (

    select distinct
        symbol,
        cast(ts as date) as date
    from exchange_minutes

),

minutes_side_by_side as (

    select
        coalesce(ours.symbol, exchange.symbol) as symbol,
        coalesce(ours.ts, exchange.ts) as ts,
        case
            when ours.ts is not null and exchange.ts is not null then 'both'
            when exchange.ts is not null then 'exchange_only'
            when exchange_symbol_days.symbol is not null then 'ours_only'
            else 'no_exchange_klines'
        end as presence,
        ours.open as our_open,
        ours.high as our_high,
        ours.low as our_low,
        ours.close as our_close,
        ours.volume_base as our_volume,
        ours.trade_count as our_trade_count,
        exchange.open as kline_open,
        exchange.high as kline_high,
        exchange.low as kline_low,
        exchange.close as kline_close,
        exchange.volume as kline_volume,
        exchange.trade_count as kline_trade_count
    from our_minutes as ours
    full outer join exchange_minutes as exchange
        on ours.symbol = exchange.symbol
            and ours.ts = exchange.ts
    left join exchange_symbol_days
        on ours.symbol = exchange_symbol_days.symbol
            and cast(ours.ts as date) = exchange_symbol_days.date

),

differences as (

    select
        *,
        (our_open - kline_open) / nullif(kline_open, 0) * 10000 as open_diff_bps,
        (our_high - kline_high) / nullif(kline_high, 0) * 10000 as high_diff_bps,
        (our_low - kline_low) / nullif(kline_low, 0) * 10000 as low_diff_bps,
        (our_close - kline_close) / nullif(kline_close, 0) * 10000 as close_diff_bps,
        case
            when our_volume = kline_volume then 0.0
            else (our_volume - kline_volume) / nullif(abs(kline_volume), 0)
        end as volume_rel_diff,
        cast(our_trade_count - kline_trade_count as bigint) as trade_count_diff
    from minutes_side_by_side

),

final as (

    select
        symbol,
        ts,
        cast(ts as date) as date,
        presence,
        our_open,
        our_high,
        our_low,
        our_close,
        our_volume,
        our_trade_count,
        kline_open,
        kline_high,
        kline_low,
        kline_close,
        kline_volume,
        kline_trade_count,
        open_diff_bps,
        high_diff_bps,
        low_diff_bps,
        close_diff_bps,
        volume_rel_diff,
        trade_count_diff,
        case presence
            -- an exchange minute without trades is what our side shows as no bar at all
            when 'exchange_only' then coalesce(kline_volume = 0 and coalesce(kline_trade_count, 0) = 0, false)
            when 'ours_only' then false
            -- nothing to reconcile against: neither a match nor a mismatch
            when 'no_exchange_klines' then null
            else coalesce(
                    abs(open_diff_bps) <= {{ var('compare_price_tolerance_bps') | float }}
                    and abs(high_diff_bps) <= {{ var('compare_price_tolerance_bps') | float }}
                    and abs(low_diff_bps) <= {{ var('compare_price_tolerance_bps') | float }}
                    and abs(close_diff_bps) <= {{ var('compare_price_tolerance_bps') | float }}
                    and abs(volume_rel_diff) <= {{ var('compare_volume_tolerance_rel') | float }}
                    -- trade counts are compared exactly where the exchange gives one
                    and (kline_trade_count is null or trade_count_diff = 0),
                    false
                )
        end as is_match
    from differences

)

select * from final
