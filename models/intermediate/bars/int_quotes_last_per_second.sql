{# grain: one row per symbol per second that has quote updates: the book at the end of that second #}

with

quotes as (

    select * from {{ ref('stg_lake__quotes') }}

),

book_at_end_of_second as (

    select
        symbol,
        date_trunc('second', ts) as ts,
        -- the last update of the second; update_id breaks ties between updates in one microsecond. Both
        -- sides in one struct: one ordering of the updates instead of two (3.3 s -> 2.4 s for 20 M quotes)
        arg_max_null({'bid': bid_price, 'ask': ask_price}, (ts, update_id)) as book,
        max(ts) as last_quote_ts
    from quotes
    group by symbol, date_trunc('second', ts)

),

quotes_last_per_second as (

    select
        symbol,
        ts,
        book['bid'] as bid,
        book['ask'] as ask,
        last_quote_ts
    from book_at_end_of_second

)

select * from quotes_last_per_second
