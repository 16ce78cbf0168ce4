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

-- A trade captured twice (overlapping capture files, a re-sent message) counts once. Every column is taken
-- from the same copy, the one with the smallest row hash: deterministic even if the copies disagree, and
-- cheaper than carrying the whole row as a struct through the aggregation.
trades_hashed as (

    select *, hash(ts, price, qty, quote_qty, is_buyer_maker) as row_hash
    from trades_in_window

),

final as (

    select
        symbol,
        trade_id,
        arg_min_null(ts, row_hash) as ts,
        arg_min_null(price, row_hash) as price,
        arg_min_null(qty, row_hash) as qty,
        arg_min_null(quote_qty, row_hash) as quote_qty,
        arg_min_null(is_buyer_maker, row_hash) as is_buyer_maker
    from trades_hashed
    group by symbol, trade_id

)

select * from final
