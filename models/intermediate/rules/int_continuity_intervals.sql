{# grain: one row per gap kind, symbol and second (or minute) seen that has a next one the same UTC day #}
{#
    The time from each moment a symbol was seen to the next one, the single place R5_CONTINUITY's gaps
    are measured: the rule's SQL (macros/rules/test_r5_continuity.sql, hence its test and `violations`)
    and its Great Expectations suite both read this table.

    kind 'activity': seconds in which the symbol traded (or had a prebuilt bar) or its quotes changed;
      a gap is longer than the symbol's max_gap_s (seeds/symbol_settings.csv, else var default_max_gap_s);
      on a symbol-day without any quote, longer than its max_trade_gap_s (trades alone are thinner).
    kind 'minutes': the exchange's kline minutes; every minute must be there (max_gap_s 60).
    kind 'hours': the context series funding_oi_hourly's hours; every hour must be there (max_gap_s 3600).
    kind 'session_minutes': the context series macro_minute's minutes, each market on its own calendar
      (seeds/macro_calendars.csv): the minutes its market is closed count as present, so a gap is a run of
      session minutes without a bar, judged against the market's max_gap_s (else var default_max_gap_s).
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

funding_hours as (

    select * from {{ ref('funding_oi_hourly') }}
    where {{ lakeqa_in_window('ts') }}

),

macro_bars as (

    select * from {{ ref('macro_minute') }}
    where {{ lakeqa_in_window('ts') }}

),

symbol_settings as (

    select * from {{ ref('symbol_settings') }}

),

macro_calendars as (

    select * from {{ ref('macro_calendars') }}

),

macro_days as (

    select
        symbol,
        min(ts) as first_ts,
        max(ts) as last_ts
    from macro_bars
    group by symbol, cast(ts as date)

),

macro_day_minutes as (

    select
        symbol,
        {{ lakeqa_timestamp_series('first_ts', 'last_ts', 'interval 1 minute') }} as ts
    from macro_days

),

-- the minutes between a market's first and last bar of the day in which it is closed, in its own time zone
-- (daylight saving moves the session in UTC): present for the gap measure, so only session minutes can be
-- missing. A session that closes before it opens runs over midnight; one that closes when it opens never
-- closes. A market without a calendar is open around the clock.
macro_closed_minutes as (

    select
        macro_day_minutes.symbol,
        macro_day_minutes.ts,
        {{ lakeqa_local_time_of_day('macro_day_minutes.ts', 'macro_calendars.timezone') }} as local_time,
        {{ lakeqa_time_of_day('macro_calendars.session_open') }} as session_open,
        {{ lakeqa_time_of_day('macro_calendars.session_close') }} as session_close
    from macro_day_minutes
    inner join macro_calendars on macro_day_minutes.symbol = macro_calendars.symbol

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

-- a macro minute with a bar, or one in which its market is closed
macro_presence as (

    select
        symbol,
        ts
    from macro_bars
    union
    select
        symbol,
        ts
    from macro_closed_minutes
    where session_open != session_close
        and case
            when session_open < session_close then not (local_time >= session_open and local_time < session_close)
            else local_time >= session_close and local_time < session_open
        end

),

presence as (

    -- a second with both trades and quotes is twice in int_symbol_activity_seconds (once per stream): the
    -- gaps below keep each second once
    select
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
    union all
    select distinct
        'hours' as kind,
        symbol,
        ts
    from funding_hours
    union all
    select
        'session_minutes' as kind,
        symbol,
        ts
    from macro_presence

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
        {{ lakeqa_seconds_between('presence_with_next.ts', 'presence_with_next.next_ts') }} as gap_s,
        case
            when presence_with_next.kind = 'minutes' then 60.0
            when presence_with_next.kind = 'hours' then 3600.0
            when presence_with_next.kind = 'session_minutes'
                then coalesce(macro_calendars.max_gap_s, {{ lakeqa_setting_number('default_max_gap_s') }})
            when symbol_days_with_quotes.symbol is null
                then coalesce(
                        symbol_settings.max_trade_gap_s, {{ lakeqa_setting_number('completeness.max_trade_gap_s') }}
                    )
            else coalesce(symbol_settings.max_gap_s, {{ lakeqa_setting_number('default_max_gap_s') }})
        end as max_gap_s
    from presence_with_next
    left join symbol_settings on presence_with_next.symbol = symbol_settings.symbol
    left join macro_calendars
        on presence_with_next.kind = 'session_minutes' and presence_with_next.symbol = macro_calendars.symbol
    left join symbol_days_with_quotes
        on presence_with_next.symbol = symbol_days_with_quotes.symbol
            and cast(presence_with_next.ts as date) = symbol_days_with_quotes.date
    -- a second seen twice (activity's two streams) has itself as its next: only its last copy is kept
    where presence_with_next.next_ts > presence_with_next.ts

)

select * from intervals
