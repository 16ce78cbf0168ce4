{# grain: one row per gap kind, symbol and second (or minute) seen that has a next one the same UTC day #}
{#
    The time from each moment a symbol was seen to the next one, the single place R5_CONTINUITY's gaps
    are measured: the rule's SQL (macros/rules/test_r5_continuity.sql, hence its test and `violations`)
    and its Great Expectations suite both read this table.

    kind 'activity': seconds in which the symbol traded (or had a prebuilt bar) or its quotes changed;
      a gap is longer than the symbol's max_gap_s (seeds/symbol_settings.csv, else var default_max_gap_s);
      on a symbol-day without any quote, longer than its max_trade_gap_s (trades alone are thinner).
    kind 'minutes': the exchange's kline minutes; every minute must be there (max_gap_s 60).
    Within each UTC day, between its first and last presence: a day is judged the same built alone or in
    a range, and the edges of a partial capture are not gaps.
#}

with

activity_seconds as (

    select * from {{ ref('int_symbol_activity_seconds') }}
    where {{ lakeqa_in_window('ts') }}

),

kline_minutes as (

    select * from {{ ref('stg_lake__klines_1m') }}
    where {{ lakeqa_in_window('ts') }}

),

symbol_settings as (

    select * from {{ ref('symbol_settings') }}

),

quote_seconds as (

    select * from {{ ref('int_quotes_last_per_second') }}
    where {{ lakeqa_in_window('ts') }}

),

-- a symbol-day without any quote is judged on its trades alone, against the trade stream's threshold:
-- its quiet trade stretches are not lost data (the missing quotes are C4_MISSING_DATASET's)
symbol_days_with_quotes as (

    select distinct
        symbol,
        cast(ts as date) as date
    from quote_seconds

),

presence as (

    select distinct
        'activity' as kind,
        symbol,
        ts
    from activity_seconds
    union all
    select distinct
        'minutes' as kind,
        symbol,
        ts
    from kline_minutes

),

presence_with_next as (

    select
        kind,
        symbol,
        ts,
        lead(ts) over (
            partition by kind, symbol, cast(ts as date)
            order by ts
        ) as next_ts
    from presence

),

intervals as (

    select
        presence_with_next.kind,
        presence_with_next.symbol,
        presence_with_next.ts,
        date_trunc('minute', presence_with_next.ts) as ts_minute,
        presence_with_next.next_ts,
        epoch(presence_with_next.next_ts - presence_with_next.ts) as gap_s,
        case
            when presence_with_next.kind = 'minutes' then 60.0
            when symbol_days_with_quotes.symbol is null
                then coalesce(
                        symbol_settings.max_trade_gap_s, {{ lakeqa_setting_number('completeness.max_trade_gap_s') }}
                    )
            else coalesce(symbol_settings.max_gap_s, {{ lakeqa_setting_number('default_max_gap_s') }})
        end as max_gap_s
    from presence_with_next
    left join symbol_settings on presence_with_next.symbol = symbol_settings.symbol
    left join symbol_days_with_quotes
        on presence_with_next.symbol = symbol_days_with_quotes.symbol
            and cast(presence_with_next.ts as date) = symbol_days_with_quotes.date
    where presence_with_next.next_ts is not null

)

select * from intervals
