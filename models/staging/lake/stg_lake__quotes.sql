{# grain: one row per symbol and update_id, quotes of the run's window plus the staleness lookback #}
{% set window = lakeqa_window() %}
{% set lookback_start_day = (modules.datetime.datetime.strptime(window.start_day, '%Y-%m-%d')
                             - modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d') %}
{% set quote_days = [lookback_start_day] + window.days %}
{% set quote_files = lakeqa_lake_files(source('lake', 'quotes'), quote_days) %}

with

quotes as (

    -- the previous day too: the first seconds of a day take their bid/ask from the last quote before it
    select * from {{ lakeqa_read_lake(source('lake', 'quotes'), quote_days, quote_files) }}

),

quotes_in_window as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
        cast(update_id as bigint) as update_id,
        cast(bid_price as double) as bid_price,
        cast(bid_qty as double) as bid_qty,
        cast(ask_price as double) as ask_price,
        cast(ask_qty as double) as ask_qty,
        cast(ts as timestamp) as ts
    from quotes
    where ts >= {{ window.start_ts }} - {{ lakeqa_seconds(var('quote_staleness_s') | float) }}
        and ts < {{ window.end_ts }}

),

-- one row per (symbol, update_id): a copy captured twice counts once; a lake without duplicates is read as
-- it is (macros/lake/lakeqa_one_copy_per_id.sql)
final as (

    {{ lakeqa_one_copy_per_id('quotes_in_window', 'update_id',
                              ['ts', 'bid_price', 'bid_qty', 'ask_price', 'ask_qty'], quote_files) }}

)

select * from final
