{# grain: one row per symbol and trade_id, trades of the run's window #}
{% set window = lakeqa_window() %}
{% set trade_files = lakeqa_lake_files(source('lake', 'trades'), window.days) %}

with

trades as (

    select * from {{ lakeqa_read_lake(source('lake', 'trades'), window.days, trade_files) }}

),

trades_in_window as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
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

-- one row per (symbol, trade_id): a copy captured twice counts once; a lake without duplicates is read as
-- it is (macros/lake/lakeqa_one_copy_per_id.sql)
final as (

    {{ lakeqa_one_copy_per_id('trades_in_window', 'trade_id',
                              ['ts', 'price', 'qty', 'quote_qty', 'is_buyer_maker'], trade_files) }}

)

select * from final
