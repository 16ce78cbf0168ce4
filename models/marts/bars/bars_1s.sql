{# grain: one row per symbol per second that has trades (or per prebuilt bar, with var use_prebuilt_bars) #}

with

trade_seconds as (

    select * from {{ ref('int_trades_aggregated_to_seconds') }}

),

quote_seconds as (

    select * from {{ ref('int_quotes_last_per_second') }}

),

-- read only with var use_prebuilt_bars (trade_seconds and quote_seconds otherwise): one import CTE per ref
prebuilt_bars as (  -- noqa: ST03

    select * from {{ ref('stg_lake__bars_1s') }}

),

{% if var('use_prebuilt_bars') %}

bars as (

    select * from prebuilt_bars

),

{% else %}

-- The book at the end of each traded second: the last quote at or before the end of the second
-- (a quote stamped exactly on the next second's boundary belongs to the next second), unless it is
-- older than var quote_staleness_s.
trade_seconds_with_book as (

    {{ lakeqa_asof_left_join('trade_seconds', 'quote_seconds', 'symbol', 'ts',
                             {'book_bid': 'bid', 'book_ask': 'ask', 'last_quote_ts': 'last_quote_ts'}) }}

),

bars as (

    select
        symbol,
        ts,
        open,
        high,
        low,
        close,
        volume_base,
        volume_quote,
        trade_count,
        vwap,
        case when is_fresh then book_bid end as bid,
        case when is_fresh then book_ask end as ask,
        case when is_fresh then book_ask - book_bid end as spread,
        case when is_fresh then (book_ask - book_bid) / ((book_ask + book_bid) / 2) * 10000 end as spread_bps
    from (
        select
            *,
            last_quote_ts >= ts + interval 1 second - {{ lakeqa_seconds(var('quote_staleness_s') | float) }}
                as is_fresh
        from trade_seconds_with_book
    )

),

{% endif %}

final as (

    select
        symbol,
        ts,
        cast(ts as date) as date,
        open,
        high,
        low,
        close,
        volume_base,
        volume_quote,
        trade_count,
        vwap,
        bid,
        ask,
        spread,
        spread_bps
    from bars

)

select * from final
