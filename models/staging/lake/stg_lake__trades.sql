{# grain: one row per symbol and trade_id, trades of the run's window #}
{% set window = lakeqa_window() %}

with

trades as (

    select * from {{ lakeqa_read_lake(source('lake', 'trades'), window.days) }}

),

trades_in_window as (

    select
        cast(symbol as varchar) as symbol,
        cast(trade_id as bigint) as trade_id,
        cast(price as double) as price,
        cast(qty as double) as qty,
        cast(quote_qty as double) as quote_qty,
        cast(ts as timestamp) as ts,
        cast(is_buyer_maker as boolean) as is_buyer_maker
    from trades
    where ts >= {{ window.start_ts }}
      and ts < {{ window.end_ts }}

),

-- A trade captured twice (overlapping capture files, a re-sent message) counts once. min() over the whole
-- row makes the pick deterministic even if the copies disagree.
trades_deduplicated as (

    select
        symbol,
        trade_id,
        min((ts, price, qty, quote_qty, is_buyer_maker)) as trade
    from trades_in_window
    group by symbol, trade_id

),

final as (

    select
        symbol,
        trade_id,
        trade[1] as ts,
        trade[2] as price,
        trade[3] as qty,
        trade[4] as quote_qty,
        trade[5] as is_buyer_maker
    from trades_deduplicated

)

select * from final
