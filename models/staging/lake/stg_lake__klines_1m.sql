{# grain: one row per exchange kline (symbol, minute); duplicates kept, for the continuity rule to see #}
{% set window = lakeqa_window() %}

with

klines as (

    select * from {{ lakeqa_read_lake(source('lake', 'klines_1m'), window.days) }}

),

final as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
        cast(open_time as timestamp) as ts,
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(close as double) as close,
        cast(volume as double) as volume,
        cast(quote_volume as double) as quote_volume,
        cast(trade_count as bigint) as trade_count,
        cast(taker_buy_base as double) as taker_buy_base,
        cast(taker_buy_quote as double) as taker_buy_quote
    from klines
    where open_time >= {{ window.start_ts }}
        and open_time < {{ window.end_ts }}

)

select * from final
