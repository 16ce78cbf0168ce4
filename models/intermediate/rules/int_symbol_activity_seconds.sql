{# grain: one row per stream, symbol and second with a trade (or a prebuilt bar), or with a quote change #}
{#
    A view: int_continuity_intervals alone reads it, once, so a table would only write and read back a
    million (symbol, second) pairs a day (0.4 of 1.5 core-seconds at 10 M trades, measured).
    A UNION ALL of the two streams, not a UNION of their seconds: a second with both trades and quotes is
    here twice, and the continuity's window keeps it once (it orders each symbol's seconds anyway). The
    UNION's hash table of every (symbol, second) was ~70 MB of DuckDB's memory while `bars_1s` and the
    completeness models ran beside it, the run's peak (10 M-trade day, measured alone: 267 -> 197 MB).
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
    -- the lake's bars as stored: a second may be there twice
    select distinct
        'bars_1s' as stream,  -- noqa: RF04
        symbol,
        ts
    from prebuilt_bar_seconds
    {% else %}
    select
        'trades' as stream,  -- noqa: RF04
        symbol,
        ts
    from trade_seconds
    {% endif %}
    union all
    select
        'quotes' as stream,  -- noqa: RF04
        symbol,
        ts
    from quote_seconds

)

select * from activity
