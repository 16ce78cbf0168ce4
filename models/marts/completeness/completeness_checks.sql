{# grain: one row per completeness check, symbol, reported time and subject (stream, dataset, column or offset) #}
{#
    Every completeness check measured once, each row a measured value and the limit it must not exceed:
    the rule tests C1-C9 (macros/rules/test_completeness_rules.sql, hence `violations`) report the rows
    with measured_value > limit_value, and the Great Expectations suites validate the same rows with
    limit_value >= measured_value. Rows within their limit are kept, so GE (and an analyst) sees what
    was checked, not only what failed. The rules' ids, severities and settings: lakeqa_rule_catalog().

      c1_trade_gap       a silence of the trade stream (edges included) vs the symbol's max_trade_gap_s
      c2_quote_gap       a silence of the quote stream vs the symbol's max_gap_s
      c3_kline_witness   a run of minutes with exchange trades and none in the lake vs
                         completeness.kline_witness_max_minutes
      c4_missing_dataset a dataset without rows that the lake held on trailing days (daily mode)
      c5_row_drop        the day's rows vs the median of the trailing days (daily mode)
      c6_null_share      the worst checked column's share of NULL/NaN values
      c7_stale_book      traded seconds priced by a quote older than quote_staleness_s, per quote silence
      c8_clock_offset    our minutes vs the exchange's klines shifted by whole hours (daily mode)
      c9_price_scale     our prices vs the exchange's (or, without klines, our own previous minute) off by
                         a power of ten
      c10_quarantined_file  lake files of the symbol-day that `lakeqa run` kept out (unreadable, or not the
                         lake contract's columns and kinds; src/lakeqa/quarantine.py), per period
#}
{% set window = lakeqa_window() %}
{% set daily = window.mode == 'daily' %}
{% set trade_stream = 'bars_1s' if var('use_prebuilt_bars') else 'trades' %}
{% set staleness_s = var('quote_staleness_s') | float %}
{% set period = 'day' if daily else 'hour' %}
{% set quarantined = lakeqa_quarantined_files() %}

with

coverage as (

    select * from {{ ref('coverage') }}
    where {{ lakeqa_in_window('ts') }}
        and mode = '{{ window.mode }}'

),

stream_silences as (

    select * from {{ ref('int_stream_silences') }}

),

trade_seconds as (

    select * from {{ ref('int_trades_aggregated_to_seconds') }}
    where {{ lakeqa_in_window('ts') }}

),

bars_1m as (

    select * from {{ ref('bars_1m') }}
    where {{ lakeqa_in_window('ts') }}

),

klines_1m as (

    select * from {{ ref('klines_1m') }}
    where {{ lakeqa_in_window('ts') }}

),

minutes_compared as (

    select * from {{ ref('compare_our_vs_kline_1m') }}
    where {{ lakeqa_in_window('ts') }}

),

symbol_settings as (

    select * from {{ ref('symbol_settings') }}

),

-- C1, C2: silences of the trade and quote streams, with what the exchange's klines report inside them.
-- A trade stream's limit is the symbol's max_trade_gap_s or, for a symbol that trades rarely, what its
-- own rate allows: completeness.trade_gap_factor x its mean time between trades x ln(its trades), the
-- longest gap a Poisson stream of that rate shows in a period, with room for quiet nights. The rate comes
-- from the trailing periods' median (coverage) where known, else from the period itself.
stream_rates as (

    select
        symbol,
        dataset as stream,
        ts as period_ts,
        {{ lakeqa_seconds_between('ts', 'period_end') }} as period_s,
        coalesce(hist_median_rows, n_rows) as typical_rows
    from coverage

),

stream_gaps as (

    select
        stream_silences.*,
        case stream_silences.stream
            when 'quotes' then coalesce(symbol_settings.max_gap_s, {{ lakeqa_setting_number('default_max_gap_s') }})
            else greatest(
                    coalesce(
                        symbol_settings.max_trade_gap_s, {{ lakeqa_setting_number('completeness.max_trade_gap_s') }}
                    ),
                    coalesce(
                        {{ lakeqa_setting_number('completeness.trade_gap_factor') }}
                        * stream_rates.period_s
                        / stream_rates.typical_rows
                        * ln(greatest(stream_rates.typical_rows, 3)),
                        0
                    )
                )
        end as limit_s
    from stream_silences
    left join symbol_settings on stream_silences.symbol = symbol_settings.symbol
    left join stream_rates
        on stream_silences.symbol = stream_rates.symbol
            and stream_silences.stream = stream_rates.stream
            and stream_silences.period_ts = stream_rates.period_ts
            and stream_rates.typical_rows > 0
    where stream_silences.stream in ('{{ trade_stream }}', 'quotes')

),

-- only a silence over its limit is looked up in the klines (a range join over every silence is slow)
stream_gaps_over_limit as (

    select
        stream_gaps.symbol,
        stream_gaps.stream,
        stream_gaps.silence_start,
        sum(klines_1m.trade_count) as exchange_trades,
        sum(klines_1m.volume) as exchange_volume
    from stream_gaps
    inner join klines_1m
        on stream_gaps.symbol = klines_1m.symbol
            and klines_1m.ts >= date_trunc('minute', stream_gaps.silence_start)
            and stream_gaps.silence_end > klines_1m.ts
    where stream_gaps.silence_s > stream_gaps.limit_s
    group by all

),

stream_gaps_witnessed as (

    select
        stream_gaps.*,
        stream_gaps_over_limit.exchange_trades,
        stream_gaps_over_limit.exchange_volume
    from stream_gaps
    left join stream_gaps_over_limit using (symbol, stream, silence_start)

),

c1_c2 as (

    select
        case when stream = 'quotes' then 'c2_quote_gap' else 'c1_trade_gap' end as check_name,
        symbol,
        silence_start as ts,
        silence_end as ts_end,
        stream as subject,
        silence_s as measured_value,
        round(limit_s, 3) as limit_value,
        'no ' || case when stream = 'quotes' then 'quotes' else 'trades' end || ' '
        || {{ lakeqa_utc_range('silence_start', 'silence_end') }}
        || ' (' || {{ lakeqa_duration('silence_s') }} || ')'
        || case edge
            when 'start' then ', from the start of the period to the first record'
            when 'end' then ', from the last record to the end of the period'
            else ''
        end
        || case
            when exchange_trades > 0
                then {{ lakeqa_quote("; the exchange's klines report ") }} || {{ lakeqa_count('exchange_trades') }} || ' trades there'
            when exchange_volume > 0
                then {{ lakeqa_quote("; the exchange's klines report a volume of ") }} || {{ lakeqa_num('exchange_volume') }} || ' there'
            else ''
        end
        || ' (longest normal silence ' || {{ lakeqa_duration('limit_s') }} || ')' as detail,
        cast(to_json({{ lakeqa_struct({'stream': "stream", 'silence_start': "silence_start", 'silence_end': "silence_end", 'silence_s': "silence_s", 'edge': "edge", 'limit_s': "limit_s", 'exchange_trades': "exchange_trades"}) }}) as {{ dbt.type_string() }}) as row_sample
    from stream_gaps_witnessed
    -- what was checked: each period's longest silence, and every silence over the limit
    where is_longest or silence_s > limit_s

),

-- C3: runs of consecutive minutes in which the exchange reports trades and our bars have none
lost_minutes as (

    select
        symbol,
        ts,
        kline_trade_count,
        kline_volume,
        ts - {{ lakeqa_minutes('row_number() over (partition by symbol, cast(ts as date) order by ts)') }} as run_key
    from minutes_compared
    where presence = 'exchange_only'
        and (kline_trade_count > 0 or kline_volume > 0)

),

c3 as (

    select
        'c3_kline_witness' as check_name,
        symbol,
        min(ts) as ts,
        max(ts) + interval 1 minute as ts_end,
        'klines_1m' as subject,
        count(*) as measured_value,
        {{ lakeqa_setting_number('completeness.kline_witness_max_minutes') }} as limit_value,
        {{ lakeqa_quote("the exchange's klines report ") }}
        || coalesce(
            {{ lakeqa_count('sum(kline_trade_count)') }} || ' trades',
            'a volume of ' || {{ lakeqa_num('sum(kline_volume)') }}
        )
        || ' in ' || {{ lakeqa_utc_range('min(ts)', 'max(ts) + interval 1 minute') }}
        || ' (' || count(*) || ' min) and the lake has no trade there' as detail,
        cast(to_json({{ lakeqa_struct({'first_minute': "min(ts)", 'last_minute': "max(ts)", 'minutes': "count(*)", 'exchange_trades': "sum(kline_trade_count)", 'exchange_volume': "sum(kline_volume)"}) }}) as {{ dbt.type_string() }})
            as row_sample
    from lost_minutes
    group by symbol, run_key

),

{% if daily %}
-- C4: a dataset the lake held on trailing days and has no row for this day
c4 as (

    select
        'c4_missing_dataset' as check_name,
        symbol,
        ts,
        period_end as ts_end,
        dataset as subject,
        hist_days_in_lake as measured_value,
        0 as limit_value,
        'no ' || dataset || ' on ' || {{ lakeqa_format_ts('ts', '%Y-%m-%d') }} || ': the lake has them on '
        || hist_days_in_lake || ' of the {{ lakeqa_setting_number('expected_lookback_days') | int }} days before (last '
        || {{ lakeqa_format_ts('hist_last_date', '%Y-%m-%d') }} || ')' as detail,
        cast(to_json({{ lakeqa_struct({'dataset': "dataset", 'hist_days_in_lake': "hist_days_in_lake", 'hist_last_date': "hist_last_date"}) }}) as {{ dbt.type_string() }}) as row_sample
    from coverage
    where n_rows = 0 and hist_days_in_lake > 0

),

-- C5: far fewer rows than the trailing days' median
c5 as (

    select
        'c5_row_drop' as check_name,
        symbol,
        ts,
        period_end as ts_end,
        dataset as subject,
        round(1 - n_rows / hist_median_rows, 6) as measured_value,
        {{ lakeqa_setting_number('completeness.max_row_drop') }} as limit_value,
        dataset || ': ' || {{ lakeqa_count('n_rows') }} || ' rows, '
        || cast(round(100 * (1 - n_rows / hist_median_rows)) as bigint) || ' % fewer than the median of the '
        || hist_days_measured || ' day(s) before (' || {{ lakeqa_count('hist_median_rows') }} || ')' as detail,
        cast(to_json({{ lakeqa_struct({'dataset': "dataset", 'n_rows': "n_rows", 'hist_median_rows': "hist_median_rows", 'hist_days_measured': "hist_days_measured"}) }}) as {{ dbt.type_string() }}) as row_sample
    from coverage
    where n_rows > 0 and hist_median_rows > 0 and dataset in ('{{ trade_stream }}', 'quotes')

),
{% endif %}

-- C6: the worst checked column's share of missing values
c6 as (

    select
        'c6_null_share' as check_name,
        symbol,
        ts,
        period_end as ts_end,
        dataset || '.' || coalesce(null_share_column, '*') as subject,
        null_share as measured_value,
        {{ lakeqa_setting_number('completeness.max_null_share') }} as limit_value,
        dataset || '.' || coalesce(null_share_column, '*') || ': ' || round(100 * null_share, 1)
        || ' % of ' || {{ lakeqa_count('n_rows') }} || ' values are NULL or NaN' as detail,
        cast(to_json({{ lakeqa_struct({'dataset': "dataset", 'column': "null_share_column", 'null_share': "null_share", 'n_rows': "n_rows"}) }}) as {{ dbt.type_string() }}) as row_sample
    from coverage
    where n_rows > 0

),

-- C7: within each silence of the quote stream, the traded seconds whose book is older than quote_staleness_s
-- (bars_1s shows them with NULL bid/ask); the first quote of a day is taken as fresh at the day's start
stale_seconds as (

    select
        stream_silences.symbol,
        stream_silences.silence_start,
        stream_silences.silence_end,
        stream_silences.edge,
        count(trade_seconds.ts) as n_stale,
        min(trade_seconds.ts) as first_stale,
        max(trade_seconds.ts) as last_stale
    from stream_silences
    inner join trade_seconds
        on stream_silences.symbol = trade_seconds.symbol
            and trade_seconds.ts >= stream_silences.silence_start - interval 1 second + {{ lakeqa_seconds(staleness_s) }}
            and stream_silences.silence_end > trade_seconds.ts
    where stream_silences.stream = 'quotes'
        and stream_silences.silence_s >= {{ staleness_s }} - 1
    group by all

),

c7 as (

    select
        'c7_stale_book' as check_name,
        symbol,
        first_stale as ts,
        last_stale + interval 1 second as ts_end,
        'quotes' as subject,
        n_stale as measured_value,
        {{ lakeqa_setting_number('completeness.max_stale_seconds') }} as limit_value,
        'book frozen ' || {{ lakeqa_utc_range('first_stale', 'last_stale + interval 1 second') }}
        || ' (' || {{ lakeqa_duration(lakeqa_seconds_between('first_stale', 'last_stale') ~ ' + 1') }} || '): '
        || {{ lakeqa_count('n_stale') }} || ' traded seconds priced by a quote older than '
        || {{ lakeqa_duration(staleness_s) }} || ' (no quote '
        || {{ lakeqa_utc_range('silence_start', 'silence_end') }} || ')' as detail,
        cast(to_json({{ lakeqa_struct({'quote_silence_start': "silence_start", 'quote_silence_end': "silence_end", 'stale_traded_seconds': "n_stale"}) }}) as {{ dbt.type_string() }}) as row_sample
    from stale_seconds

),

{% if daily %}
-- C8: our minutes equal the exchange's klines shifted by a whole number of hours (a clock in local time)
traded_kline_minutes as (

    select
        symbol,
        ts,
        volume
    from klines_1m
    where volume > 0

),

matches_by_offset as (

    -- per offset: the traded exchange minutes and those our bars equal there (an equi-join on the shifted
    -- minute; the volume comparison is an aggregate filter, which keeps it a hash join)
    select
        shifted.symbol,
        shifted.day,
        shifted.hours,
        count(*) as n_traded,
        count(*) filter (
            where abs(bars_1m.volume_base - shifted.volume) <= 1e-9 * shifted.volume
        ) as n_matching
    from (
        select
            traded_kline_minutes.symbol,
            date_trunc('day', traded_kline_minutes.ts) as day,
            offsets.hours,
            traded_kline_minutes.ts + {{ lakeqa_hours('offsets.hours') }} as shifted_ts,
            traded_kline_minutes.volume
        from traded_kline_minutes
        cross join (select {{ lakeqa_integer_series(-12, 12) }} as hours) as offsets
    ) as shifted
    left join bars_1m
        on shifted.symbol = bars_1m.symbol
            and shifted.shifted_ts = bars_1m.ts
    group by all

),

offset_summary as (

    select
        symbol,
        day,
        max(n_traded) as n_traded,
        max(n_matching) filter (where hours = 0) as n_matching_unshifted,
        -- ties (e.g. nothing matches anywhere) go to the smallest offset, later the positive one: deterministic
        {{ lakeqa_arg_max('hours', 'n_matching * 100 - 2 * abs(hours) + cast(hours > 0 as integer)') }} filter (where hours != 0)
            as best_hours,
        max(n_matching) filter (where hours != 0) as n_matching_best
    from matches_by_offset
    group by all

),

c8 as (

    select
        'c8_clock_offset' as check_name,
        symbol,
        day as ts,
        day + interval 1 day as ts_end,
        'offset ' || case when best_hours > 0 then '+' else '' end || best_hours || ' h' as subject,
        round(n_matching_best / n_traded, 6) as measured_value,
        greatest(
            round(n_matching_unshifted / n_traded, 6),
            {{ lakeqa_setting_number('completeness.clock_offset_min_share') }}
        )
            as limit_value,
        'clock off by ' || case when best_hours > 0 then '+' else '' end || best_hours || ' h: our 1m bars equal the '
        || {{ lakeqa_quote("exchange's klines of ") }}
        || abs(best_hours)
        || ' h '
        || case when best_hours > 0 then 'earlier' else 'later' end
        || ' on ' || {{ lakeqa_count('n_matching_best') }} || ' of ' || {{ lakeqa_count('n_traded') }}
        || ' traded minutes, unshifted on ' || {{ lakeqa_count('n_matching_unshifted') }} as detail,
        cast(to_json({{ lakeqa_struct({'best_offset_hours': "best_hours", 'matching_best': "n_matching_best", 'matching_unshifted': "n_matching_unshifted", 'traded_minutes': "n_traded"}) }}) as {{ dbt.type_string() }})
            as row_sample
    from offset_summary
    where n_traded > 0

),
{% endif %}

-- C9: prices off by a power of ten: against the exchange's close where it has klines, else a step of our
-- own close by a power of ten that the price keeps (a level) until it steps back
scale_against_exchange as (

    select
        symbol,
        ts,
        our_close,
        kline_close as reference_close,
        round(log10(our_close / kline_close)) as power
    from minutes_compared
    where presence = 'both' and our_close > 0 and kline_close > 0
        and abs(log10(our_close / kline_close) - round(log10(our_close / kline_close))) < 0.01

),

symbol_days_with_klines as (

    select distinct
        symbol,
        cast(ts as date) as date
    from klines_1m

),

own_steps as (

    select
        bars_1m.symbol,
        bars_1m.ts,
        bars_1m.close,
        lag(bars_1m.close) over (
            partition by bars_1m.symbol, bars_1m.date
            order by bars_1m.ts
        ) as previous_close
    from bars_1m
    {{ lakeqa_anti_join() }} symbol_days_with_klines
        on bars_1m.symbol = symbol_days_with_klines.symbol
            and bars_1m.date = symbol_days_with_klines.date
    where bars_1m.close > 0

),

own_levels as (

    select
        symbol,
        ts,
        close as our_close,
        -- the close of the day's first minute at the level of the day's start
        close / power(10, sum(step) over (
            partition by symbol, cast(ts as date)
            order by ts
        )) as reference_close,
        sum(step) over (
            partition by symbol, cast(ts as date)
            order by ts
        ) as power
    from (
        select
            *,
            case
                when previous_close > 0
                    and abs(log10(close / previous_close) - round(log10(close / previous_close))) < 0.01
                    then round(log10(close / previous_close))
                else 0
            end as step
        from own_steps
    )

),

-- a run is the traded minutes at one power in a row: minutes without a comparison do not break it
minutes_in_runs as (

    select
        *,
        row_number()
            over (
                partition by symbol, cast(ts as date)
                order by ts
            )
        - row_number() over (
            partition by symbol, cast(ts as date), power
            order by ts
        ) as run_key
    from (
        select
            *,
            'klines_1m' as reference
        from scale_against_exchange
        union all
        select
            *,
            'own previous minute' as reference
        from own_levels
    )

),

scaled_minutes as (

    select * from minutes_in_runs
    where power != 0

),

c9 as (

    select
        'c9_price_scale' as check_name,
        symbol,
        min(ts) as ts,
        max(ts) + interval 1 minute as ts_end,
        'x1e' || cast(power as bigint) as subject,
        count(*) as measured_value,
        0 as limit_value,
        'prices x'
        || {{ lakeqa_num('power(10, power)') }}
        || ' '
        || {{ lakeqa_utc_range('min(ts)', 'max(ts) + interval 1 minute') }}
        || ' (' || count(*) || ' traded min): our close ' || {{ lakeqa_num(lakeqa_arg_min('our_close', 'ts')) }}
        || case
            when min(reference) = 'klines_1m' then {{ lakeqa_quote(" where the exchange's kline closes at ") }}
            else ' after '
        end
        || {{ lakeqa_num(lakeqa_arg_min('reference_close', 'ts')) }} as detail,
        cast(to_json({{ lakeqa_struct({'power': "power", 'minutes': "count(*)", 'reference': "min(reference)"}) }}) as {{ dbt.type_string() }}) as row_sample
    from scaled_minutes
    group by symbol, power, run_key

),

-- C10: lake files kept out of this run (quarantine), one row per symbol, dataset and period of their day
{% if quarantined %}
quarantined_files as (

    select * from (values
        {%- for q in quarantined %}
        ({{ lakeqa_quote(q.symbol) }}, {{ lakeqa_quote(q.dataset) }}, cast({{ lakeqa_quote(q.date) }} as date),
         {{ lakeqa_quote(q.file) }}, {{ lakeqa_quote(q.column or '') }}, {{ lakeqa_quote(q.reason) }})
        {{- "," if not loop.last }}
        {%- endfor %}
    ) as quarantined (symbol, dataset, date, file, column_name, reason)

),

quarantine_periods as (

    -- every day (hour) that starts inside the window, with its end (the window's end at the latest)
    {{ lakeqa_window_periods(period) }}

),

c10 as (

    select
        'c10_quarantined_file' as check_name,
        quarantined_files.symbol,
        quarantine_periods.ts,
        quarantine_periods.period_end as ts_end,
        quarantined_files.dataset as subject,
        count(*) as measured_value,
        0 as limit_value,
        count(*) || ' ' || quarantined_files.dataset || ' file(s) kept out of the QA (quarantine): '
        || {{ lakeqa_ordered_join("quarantined_files.file || ': ' || quarantined_files.reason", '; ', 'quarantined_files.file') }}
            as detail,
        cast(to_json({{ lakeqa_struct({
            'files': lakeqa_ordered_list('quarantined_files.file', 'quarantined_files.file'),
            'columns': lakeqa_ordered_list("nullif(quarantined_files.column_name, '')", 'quarantined_files.file'),
            'reasons': lakeqa_ordered_list('quarantined_files.reason', 'quarantined_files.file')
        }) }}) as {{ dbt.type_string() }}) as row_sample
    from quarantined_files
    inner join quarantine_periods
        on cast(quarantine_periods.ts as date) = quarantined_files.date
    -- a context series' file (lakeqa_context_datasets) is kept out and listed by the run, but it is no
    -- crypto symbol's missing data
    where quarantined_files.dataset not in (
        {%- for dataset in lakeqa_context_datasets() %}{{ lakeqa_quote(dataset) }}{{ ", " if not loop.last }}{% endfor -%}
    )
    group by quarantined_files.symbol, quarantined_files.dataset, quarantine_periods.ts, quarantine_periods.period_end

),
{% endif %}

all_checks as (

    select * from c1_c2
    union all
    select * from c3
    {% if daily %}
    union all
    select * from c4
    union all
    select * from c5
    {% endif %}
    union all
    select * from c6
    union all
    select * from c7
    {% if daily %}
    union all
    select * from c8
    {% endif %}
    union all
    select * from c9
    {% if quarantined %}
    union all
    select * from c10
    {% endif %}

),

final as (

    select
        check_name,
        symbol,
        ts,
        ts_end,
        cast(ts as date) as date,
        '{{ window.mode }}' as mode,
        subject,
        cast(measured_value as double) as measured_value,
        cast(limit_value as double) as limit_value,
        measured_value > limit_value as is_violation,
        detail,
        row_sample
    from all_checks

)

select * from final
order by symbol, ts, check_name, subject
