{# grain: one row per exchange kline as delivered (symbol, minute); duplicates are kept for R5 #}

with

klines as (

    select * from {{ ref('stg_lake__klines_1m') }}

),

final as (

    select
        symbol,
        ts,
        cast(ts as date) as date,
        open,
        high,
        low,
        close,
        volume,
        quote_volume,
        trade_count,
        taker_buy_base,
        taker_buy_quote
    from klines

)

select * from final
