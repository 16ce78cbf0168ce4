{# grain: one row per mode, symbol, dataset and period (UTC day, or hour in hourly mode) #}
{#
    What arrived: per symbol, lake dataset and period, the rows, the first and last record, the longest
    silence (int_stream_silences: edges included), the share of the period's minutes with a record, the
    worst column's share of missing values, and the same figures for the symbol's recent history: the
    expected_lookback_days before (the same hour of those days in hourly mode). The input of the
    completeness checks (completeness_checks) and of the report's coverage section.

    A dataset the symbol had in the lake within the lookback has a row even when nothing arrived
    (n_rows 0): that is how a missing dataset shows. History has two sources: the lake's folders (on how
    many of the trailing days the dataset has files: hist_days_in_lake, cheap, always known) and the
    coverage rows of the trailing days this table already holds or builds in the same run (rows, silences:
    hist_days_measured; 0 on the first day a lake is judged, which the checks and reasons say).
#}
{% set window = lakeqa_window() %}
{% set period = 'day' if window.mode == 'daily' else 'hour' %}
{% set lookback_days = lakeqa_setting_number('expected_lookback_days') | int %}
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

stream_silences as (

    select * from {{ ref('int_stream_silences') }}

),

lake_partitions as (

    select * from {{ ref('stg_lake__partitions') }}

),

periods as (

    -- every day (hour) that starts inside the window, with its end (the window's end at the latest)
    {{ lakeqa_window_periods(period) }}

),

-- per dataset: rows, first and last record, minutes with a record, and each checked column's missing values
trade_counts as (

    select
        symbol,
        date_trunc('{{ period }}', ts) as ts,
    {% if var('use_prebuilt_bars') %}
        count(*) as n_rows,
        min(ts) as first_ts,
        max(ts) as last_ts,
        count(distinct date_trunc('minute', ts)) as n_minutes,
        {{ lakeqa_nulls_list({
            'close': 'count(*) filter (where close is null or isnan(close))',
            'volume_base': 'count(*) filter (where volume_base is null or isnan(volume_base))'}) }} as nulls
    from prebuilt_bar_seconds
        {% else %}
    sum(trade_count) as n_rows,
    min(ts) as first_ts,
    max(ts) as last_ts,
    count(distinct date_trunc('minute', ts)) as n_minutes,
    {{ lakeqa_nulls_list({'price': 'sum(n_null_price)', 'qty': 'sum(n_null_qty)'}) }} as nulls  -- noqa: RF04
from trade_seconds
    {% endif %}
    where {{ lakeqa_in_window('ts') }}
    group by all

),

quote_counts as (

    select
        symbol,
        date_trunc('{{ period }}', ts) as ts,
        sum(n_updates) as n_rows,
        min(ts) as first_ts,
        max(ts) as last_ts,
        count(distinct date_trunc('minute', ts)) as n_minutes,
        {{ lakeqa_nulls_list({'bid_price': 'sum(n_null_bid_price)',
                              'ask_price': 'sum(n_null_ask_price)'}) }} as nulls  -- noqa: RF04
    from quote_seconds
    where {{ lakeqa_in_window('ts') }}
    group by all

),

kline_counts as (

    select
        symbol,
        date_trunc('{{ period }}', ts) as ts,
        count(*) as n_rows,
        min(ts) as first_ts,
        max(ts) as last_ts,
        count(distinct ts) as n_minutes,
        {{ lakeqa_nulls_list({
            'open': 'count(*) filter (where open is null or isnan(open))',
            'high': 'count(*) filter (where high is null or isnan(high))',
            'low': 'count(*) filter (where low is null or isnan(low))',
            'close': 'count(*) filter (where close is null or isnan(close))',
            'volume': 'count(*) filter (where volume is null or isnan(volume))'}) }} as nulls  -- noqa: RF04
    from kline_minutes
    where {{ lakeqa_in_window('ts') }}
    group by all

),

dataset_counts as (

    select
        '{{ trade_stream }}' as dataset,
        *
    from trade_counts
    union all
    select
        'quotes' as dataset,
        *
    from quote_counts
    union all
    select
        'klines_1m' as dataset,
        *
    from kline_counts

),

-- every (symbol, dataset) the lake held on one of the lookback days before a period's day: it is expected
datasets_in_lake_before as (

    select
        periods.ts,
        lake_partitions.symbol,
        lake_partitions.dataset,
        count(distinct lake_partitions.date) as hist_days_in_lake,
        max(lake_partitions.date) as hist_last_date
    from periods
    inner join lake_partitions
        on lake_partitions.date < cast(periods.ts as date)
            and lake_partitions.date >= cast(periods.ts as date) - interval {{ lookback_days }} day
    where lake_partitions.dataset in ('{{ trade_stream }}', 'quotes', 'klines_1m')
    group by all

),

symbol_datasets as (

    select
        symbol,
        dataset,
        ts
    from dataset_counts
    union
    select
        symbol,
        dataset,
        ts
    from datasets_in_lake_before

),

longest_silences as (

    select
        symbol,
        stream as dataset,
        period_ts as ts,
        silence_s,
        silence_start,
        silence_end
    from stream_silences
    where is_longest

),

measured as (

    select
        symbol_datasets.ts,
        periods.period_end,
        cast(symbol_datasets.ts as date) as date,
        '{{ window.mode }}' as mode,
        symbol_datasets.symbol,
        symbol_datasets.dataset,
        cast(coalesce(dataset_counts.n_rows, 0) as bigint) as n_rows,
        dataset_counts.first_ts,
        dataset_counts.last_ts,
        case
            when dataset_counts.n_rows is null
                then {{ lakeqa_seconds_between('symbol_datasets.ts', 'periods.period_end') }}
            else coalesce(longest_silences.silence_s, 0)
        end as longest_silence_s,
        case when dataset_counts.n_rows is null then symbol_datasets.ts else longest_silences.silence_start end
            as longest_silence_start,
        case when dataset_counts.n_rows is null then periods.period_end else longest_silences.silence_end end
            as longest_silence_end,
        coalesce(dataset_counts.n_minutes, 0)
        / ({{ lakeqa_seconds_between('symbol_datasets.ts', 'periods.period_end') }} / 60)
            as covered_share,
        {{ lakeqa_worst_nulls('dataset_counts.nulls') }} as worst_nulls,
        coalesce(datasets_in_lake_before.hist_days_in_lake, 0) as hist_days_in_lake,
        datasets_in_lake_before.hist_last_date
    from symbol_datasets
    inner join periods on symbol_datasets.ts = periods.ts
    left join dataset_counts
        on symbol_datasets.symbol = dataset_counts.symbol
            and symbol_datasets.dataset = dataset_counts.dataset
            and symbol_datasets.ts = dataset_counts.ts
    left join longest_silences
        on symbol_datasets.symbol = longest_silences.symbol
            and symbol_datasets.dataset = longest_silences.dataset
            and symbol_datasets.ts = longest_silences.ts
    left join datasets_in_lake_before
        on symbol_datasets.symbol = datasets_in_lake_before.symbol
            and symbol_datasets.dataset = datasets_in_lake_before.dataset
            and symbol_datasets.ts = datasets_in_lake_before.ts

),

-- the trailing periods these figures are compared with: rows already stored (earlier runs) and the
-- periods this run builds, the same hour of day in hourly mode
history_rows as (

    select
        mode,
        symbol,
        dataset,
        ts,
        n_rows,
        longest_silence_s,
        covered_share
    from measured
    {% if is_incremental() %}
    union all
    select mode, symbol, dataset, ts, n_rows, longest_silence_s, covered_share from {{ this }}
    where mode = '{{ window.mode }}'
        and ts >= {{ window.start_ts }} - interval {{ lookback_days }} day
        and ts < {{ window.start_ts }}
    {% endif %}

),

history as (

    select
        measured.symbol,
        measured.dataset,
        measured.ts,
        count(history_rows.ts) as hist_days_measured,
        median(history_rows.n_rows) as hist_median_rows,
        min(history_rows.n_rows) as hist_min_rows,
        median(history_rows.longest_silence_s) as hist_median_longest_silence_s,
        median(history_rows.covered_share) as hist_median_covered_share
    from measured
    inner join history_rows
        on measured.symbol = history_rows.symbol
            and measured.dataset = history_rows.dataset
            and measured.ts > history_rows.ts
            and history_rows.ts >= measured.ts - interval {{ lookback_days }} day
            and extract(hour from history_rows.ts) = extract(hour from measured.ts)
            -- a period in which the dataset had no row at all is not history of what arrives normally
            and history_rows.n_rows > 0
    group by all

),

final as (

    select
        measured.ts,
        measured.period_end,
        measured.date,
        measured.mode,
        measured.symbol,
        measured.dataset,
        measured.n_rows,
        measured.first_ts,
        measured.last_ts,
        measured.longest_silence_s,
        measured.longest_silence_start,
        measured.longest_silence_end,
        round(measured.covered_share, 6) as covered_share,
        case when measured.n_rows > 0 then round(measured.worst_nulls.n / measured.n_rows, 6) else 0 end  -- noqa: RF01
            as null_share,
        case when measured.worst_nulls.n > 0 then measured.worst_nulls.name end as null_share_column,  -- noqa: RF01
        measured.hist_days_in_lake,
        measured.hist_last_date,
        coalesce(history.hist_days_measured, 0) as hist_days_measured,
        history.hist_median_rows,
        history.hist_min_rows,
        history.hist_median_longest_silence_s,
        round(history.hist_median_covered_share, 6) as hist_median_covered_share
    from measured
    left join history using (symbol, dataset, ts)

)

select * from final
order by ts, symbol, dataset
