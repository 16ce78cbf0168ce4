{# grain: one row per symbol and update_id, quotes of the run's window plus the staleness lookback #}
{% set window = lakeqa_window() %}
{% set lookback_start_day = (modules.datetime.datetime.strptime(window.start_day, '%Y-%m-%d')
                             - modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d') %}

with

quotes as (

    -- the previous day too: the first seconds of a day take their bid/ask from the last quote before it
    select * from {{ lakeqa_read_lake(source('lake', 'quotes'), [lookback_start_day] + window.days) }}

),

quotes_in_window as (

    select
        cast(symbol as varchar) as symbol,
        cast(update_id as bigint) as update_id,
        cast(bid_price as double) as bid_price,
        cast(bid_qty as double) as bid_qty,
        cast(ask_price as double) as ask_price,
        cast(ask_qty as double) as ask_qty,
        cast(ts as timestamp) as ts
    from quotes
    where ts >= {{ window.start_ts }} - to_seconds({{ var('quote_staleness_s') | float }})
      and ts < {{ window.end_ts }}

),

-- one row per update: every column from the same copy, the one with the smallest row hash (deterministic).
-- As in stg_lake__trades, only the ids seen more than once are aggregated; the rest keep their file order,
-- which keeps the per-second aggregation downstream fast.
duplicated_ids as (

    select symbol, update_id
    from quotes_in_window
    group by symbol, update_id
    having count(*) > 1

),

quotes_seen_once as (

    select quotes_in_window.*
    from quotes_in_window
    anti join duplicated_ids using (symbol, update_id)

),

duplicated_quotes_hashed as (

    select quotes_in_window.*, hash(ts, bid_price, bid_qty, ask_price, ask_qty) as row_hash
    from quotes_in_window
    semi join duplicated_ids using (symbol, update_id)

),

duplicated_quotes_once as (

    select
        symbol,
        update_id,
        arg_min_null(bid_price, row_hash) as bid_price,
        arg_min_null(bid_qty, row_hash) as bid_qty,
        arg_min_null(ask_price, row_hash) as ask_price,
        arg_min_null(ask_qty, row_hash) as ask_qty,
        arg_min_null(ts, row_hash) as ts
    from duplicated_quotes_hashed
    group by symbol, update_id

),

final as (

    select symbol, update_id, ts, bid_price, bid_qty, ask_price, ask_qty from quotes_seen_once
    union all
    select symbol, update_id, ts, bid_price, bid_qty, ask_price, ask_qty from duplicated_quotes_once

)

select * from final
