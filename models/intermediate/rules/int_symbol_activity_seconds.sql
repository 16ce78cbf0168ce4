{# grain: one row per symbol per second in which the symbol traded or its quotes changed #}
{#
    A view: int_continuity_intervals alone reads it, once, so a table would only write and read back a
    million (symbol, second) pairs a day (0.4 of 1.5 core-seconds at 10 M trades, measured).
#}
{{ config(materialized='view') }}

with

trade_seconds as (

    select * from {{ ref('int_trades_aggregated_to_seconds') }}

),

-- read only with var use_prebuilt_bars (trade_seconds otherwise): one import CTE per ref either way
prebuilt_bar_seconds as (  -- noqa: ST03

    select * from {{ ref('stg_lake__bars_1s') }}

),

quote_seconds as (

    select * from {{ ref('int_quotes_last_per_second') }}

),

activity as (

    {% if var('use_prebuilt_bars') %}
    select
        symbol,
        ts
    from prebuilt_bar_seconds
    {% else %}
    select
        symbol,
        ts
    from trade_seconds
    {% endif %}
    union
    select
        symbol,
        ts
    from quote_seconds

)

select * from activity
