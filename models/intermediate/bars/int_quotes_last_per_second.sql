{# grain: one row per symbol per second that has quote updates: the book at the end of that second #}

with

quotes as (

    select * from {{ ref('stg_lake__quotes') }}

),

quotes_last_per_second as (

    select
        symbol,
        date_trunc('second', ts) as ts,
        -- the last update of the second; update_id breaks ties between updates in one microsecond
        arg_max_null(bid_price, (ts, update_id)) as bid,
        arg_max_null(ask_price, (ts, update_id)) as ask,
        max(ts) as last_quote_ts
    from quotes
    group by symbol, date_trunc('second', ts)

)

select * from quotes_last_per_second
