{# grain: one row per stream, symbol and silence (no record from silence_start to silence_end) #}
{#
    The silences of each lake stream, measured once: coverage's longest silence, and the completeness
    checks C1_TRADE_GAP, C2_QUOTE_GAP and C7_STALE_BOOK (int_completeness_checks) read them.

    A stream is one dataset on its own: trades (or prebuilt bars_1s), quotes, the exchange's klines_1m.
    A silence is the time without a single record: from the end of a record's second (minute for klines)
    to the start of the next, and at the edges of the span from its start to the first record and from
    the last record to its end, so a collector that died at 10:00 leaves a silence 10:00-24:00. The span
    is each UTC day in daily mode (a day is judged the same built alone or in a range) and the whole
    window in hourly mode (a silence across an hour boundary is one silence, placed in the hour it starts).
    A stream without any record in a span has no silence here: coverage reports it missing instead.

    Kept: silences of at least var completeness.min_silence_s, and the longest of each stream, symbol and
    period, whatever its length (coverage's longest_silence_s).
#}
{% set window = lakeqa_window() %}
{% set period = 'day' if window.mode == 'daily' else 'hour' %}
{% set trade_stream = 'bars_1s' if var('use_prebuilt_bars') else 'trades' %}

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

kline_minutes as (

    select * from {{ ref('stg_lake__klines_1m') }}

),

-- a record is its stream, symbol and second (minute for klines); its length and its span's end are added
-- after the window: each column carried through it is held for every record of the day (~2 M at 10 M
-- trades), and these two were ~35 MB of DuckDB's memory beside `bars_1s`, the run's peak (measured alone)
records as (

    select
        '{{ trade_stream }}' as stream,  -- noqa: RF04
        symbol,
        ts
    {% if var('use_prebuilt_bars') %}
    from prebuilt_bar_seconds
    {% else %}
    from trade_seconds
    {% endif %}
    where {{ lakeqa_in_window('ts') }}
    union all
    select
        'quotes' as stream,  -- noqa: RF04
        symbol,
        ts
    from quote_seconds
    where {{ lakeqa_in_window('ts') }}
    union all
    select distinct
        'klines_1m' as stream,  -- noqa: RF04
        symbol,
        ts
    from kline_minutes
    where {{ lakeqa_in_window('ts') }}

),

records_in_spans as (

    select
        *,
    {% if period == 'day' %}
    date_trunc('day', ts) as span_start
    {% else %}
        {{ window.start_ts }} as span_start
        {% endif %}
    from records

),

records_with_neighbours as (

    select
        *,
        lag(ts) over spans as previous_ts,
        lead(ts) over spans as next_ts
    from records_in_spans
    window spans as (
        partition by stream, symbol, span_start
        order by ts
    )

),

records_measured as (

    select
        *,
        case when stream = 'klines_1m' then 60 else 1 end as grain_s,
    {% if period == 'day' %}
    least(span_start + interval 1 day, {{ window.end_ts }}) as span_end
    {% else %}
        {{ window.end_ts }} as span_end
        {% endif %}
    from records_with_neighbours

),

silences_all as (

    -- from the start of the span to the first record
    select
        stream,
        symbol,
        span_start as silence_start,
        ts as silence_end,
        'start' as edge
    from records_measured
    where previous_ts is null and ts > span_start
    union all
    -- between two records
    select
        stream,
        symbol,
        ts + {{ lakeqa_seconds('grain_s') }} as silence_start,
        next_ts as silence_end,
        'none' as edge
    from records_measured
    where next_ts > ts + {{ lakeqa_seconds('grain_s') }}
    union all
    -- from the last record to the end of the span
    select
        stream,
        symbol,
        ts + {{ lakeqa_seconds('grain_s') }} as silence_start,
        span_end as silence_end,
        'end' as edge
    from records_measured
    where next_ts is null and span_end > ts + {{ lakeqa_seconds('grain_s') }}

),

silences_measured as (

    select
        stream,
        symbol,
        date_trunc('{{ period }}', silence_start) as period_ts,
        silence_start,
        silence_end,
        {{ lakeqa_seconds_between('silence_start', 'silence_end') }} as silence_s,
        edge
    from silences_all

),

silences_ranked as (

    select
        *,
        row_number() over (
            partition by stream, symbol, period_ts
            order by silence_s desc, silence_start asc
        ) = 1 as is_longest
    from silences_measured

),

final as (

    select * from silences_ranked
    where silence_s >= {{ lakeqa_setting_number('completeness.min_silence_s') }} or is_longest

)

select * from final
