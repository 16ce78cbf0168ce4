{# grain: one row per symbol per second of the run's window that has a 1-second bar #}
{#
    The detectors' features per 1-second bar and their trailing statistics (see _detectors__models.yml
    for the exact definitions). The trailing window is the `lookback_minutes` whole minutes before the
    bar's minute, which every bar of that minute shares: one row per minute is summed from per-minute
    partial sums, and each bar joins its minute's row. Per-row RANGE frames cost seconds per feature over a
    million rows; the bar's own minute so far (a running sum within the minute, 17 window aggregates)
    doubled the model's time and memory (10 M-trade day: 3.2 s, 6.1 CPU-s, 780 MB against 1.6 s, 3.0
    CPU-s, 430 MB without it).

    Every feature is put on a fixed-point grid (`scale` units per feature unit: 1e-6 bp, 1e-6 for
    log_volume, 1e-10 for return_1s) and the partial sums are exact integers of those units, so the
    statistics do not depend on the order in which DuckDB's threads add rows up. The grid also absorbs the
    last-bit noise of the bars' floating-point sums (volume, vwap), so a rebuild gives byte-identical
    features unless a value sits within that noise of a grid boundary.
#}
{%- set window = lakeqa_window() -%}
{%- set window_s = lakeqa_setting_number('zscore.window_s') | int -%}
{%- set lookback_minutes = (window_s + 59) // 60 -%}
{#- the features the z-score detectors judge: they get robust trailing statistics too -#}
{%- set zscore_features = ['spread_bp', 'log_volume', 'vwap_drift_bp'] -%}
{#- feature -> (fixed-point units per feature unit, clip applied in the sums only: keeps them in range) -#}
{%- set features = {
    'spread_bp': (1000000, 100000000),
    'log_volume': (1000000, 100000000),
    'vwap_drift_bp': (1000000, 100000000),
    'return_1s': (10000000000, 1000),
} -%}
{%- set return_units = features.return_1s[0] -%}

with

bars_1s as (

    select * from {{ ref('bars_1s') }}
    where ts >= {{ window.start_ts }} - interval {{ lookback_minutes }} minute
        and ts < {{ window.end_ts }}

),

bars_with_previous_bar as (

    select
        *,
        lag(close) over bars_of_symbol as previous_close,
        lag(ts) over bars_of_symbol as previous_ts,
        lag(close, 2) over bars_of_symbol as second_previous_close,
        lag(ts, 2) over bars_of_symbol as second_previous_ts
    from bars_1s
    window bars_of_symbol as (
        partition by symbol
        order by ts
    )

),

bar_features_exact as (

    select
        symbol,
        ts,
        date,
        date_trunc('minute', ts) as minute_ts,
        close,
        trade_count,
        spread_bps as spread_bp,
        -- NaN > 0 is true in DuckDB, so a NaN volume stays NaN (and is reported as non-finite) instead of NULL
        case when volume_base > 0 then ln(volume_base) end as log_volume,
        case when vwap <> 0 then (close - vwap) / vwap * 10000 end as vwap_drift_bp,
        -- the return since the symbol's previous bar, if that bar is at most window_s old
        case
            when previous_ts >= ts - interval {{ window_s }} second and close > 0 and previous_close > 0
                then ln(close / previous_close)
        end as return_1s,
        -- the previous bar's return, defined the same way: |return_1s| x |previous return| is the term of
        -- the bipower variation, a return variance that a single jump barely moves
        case
            when second_previous_ts >= previous_ts - interval {{ window_s }} second
                and previous_ts >= ts - interval {{ window_s }} second
                and previous_close > 0 and second_previous_close > 0
                then ln(previous_close / second_previous_close)
        end as previous_return_1s,
        coalesce(
            not {{ lakeqa_isfinite('open') }} or not {{ lakeqa_isfinite('high') }} or not {{ lakeqa_isfinite('low') }}
            or not {{ lakeqa_isfinite('close') }} or not {{ lakeqa_isfinite('volume_base') }}
            or not {{ lakeqa_isfinite('vwap') }} or not {{ lakeqa_isfinite('spread_bps') }},
            false
        ) as has_nonfinite_value
    from bars_with_previous_bar

),

bar_features as (

    select
        symbol,
        ts,
        date,
        minute_ts,
        close,
        trade_count,
        {%- for feature, (scale, clip) in features.items() %}
        round({{ feature }} * {{ scale }}) / {{ scale }} as {{ feature }},
        {%- endfor %}
        round(previous_return_1s * {{ features.return_1s[0] }}) / {{ features.return_1s[0] }} as previous_return_1s,
        has_nonfinite_value
    from bar_features_exact

),

bar_features_quantised as (

    select
        *,
        {%- for feature, (scale, clip) in features.items() %}
        case
            when {{ lakeqa_isfinite(feature) }}
                then cast(round(greatest(least({{ feature }}, {{ clip }}), -{{ clip }}) * {{ scale }}) as bigint)
        end as {{ feature }}_units,
        {%- endfor %}
        case
            when {{ lakeqa_isfinite('return_1s') }} and {{ lakeqa_isfinite('previous_return_1s') }}
                then cast(
                        abs(round(greatest(least(return_1s, 1000), -1000) * {{ return_units }}))
                        as {{ lakeqa_wide_integer() }}
                    )
                    * cast(
                        abs(round(greatest(least(previous_return_1s, 1000), -1000) * {{ return_units }}))
                        as {{ lakeqa_wide_integer() }}
                    )
        end as return_bipower_units,
        -- tick candidates: positive beyond floating-point noise (a price difference of a rounding error)
        case when {{ lakeqa_isfinite('spread_bp') }} and spread_bp > 1e-9 then spread_bp end as positive_spread_bp,
        case
            when {{ lakeqa_isfinite('return_1s') }} and abs(return_1s) > 1e-13 then abs(return_1s) * 10000
        end as positive_abs_return_bp
    from bar_features

),

minute_partial_sums as (

    select
        symbol,
        minute_ts,
        {%- for feature in features %}
        count({{ feature }}_units) as {{ feature }}_n,
        sum({{ feature }}_units) as {{ feature }}_sum,
        sum(cast({{ feature }}_units as {{ lakeqa_wide_integer() }}) * {{ feature }}_units) as {{ feature }}_sum_sq,
        {%- endfor %}
        count(return_bipower_units) as return_bipower_n,
        sum(return_bipower_units) as return_bipower_sum,
        min(positive_spread_bp) as min_positive_spread_bp,
        min(positive_abs_return_bp) as min_positive_abs_return_bp
    from bar_features_quantised
    group by symbol, minute_ts

),

minute_trailing_sums as (

    select
        symbol,
        minute_ts,
        {%- for feature in features %}
        coalesce(sum({{ feature }}_n) over previous_minutes, 0) as {{ feature }}_n,
        coalesce(sum({{ feature }}_sum) over previous_minutes, 0) as {{ feature }}_sum,
        coalesce(sum({{ feature }}_sum_sq) over previous_minutes, 0) as {{ feature }}_sum_sq,
        {%- endfor %}
        {%- for feature in zscore_features %}
        {%- set scale = features[feature][0] %}
        {%- set minute_mean %}
            case when {{ feature }}_n > 0 then cast({{ feature }}_sum as double) / {{ feature }}_n / {{ scale }} end
        {%- endset %}
        {%- set minute_std %}
            case
                when {{ feature }}_n > 1
                    then sqrt(
                            greatest(
                                cast(
                                    {{ feature }}_n * {{ feature }}_sum_sq
                                    - cast({{ feature }}_sum as {{ lakeqa_wide_integer() }}) * {{ feature }}_sum as double
                                )
                                / ({{ feature }}_n * ({{ feature }}_n - 1)),
                                0
                            )
                        ) / {{ scale }}
            end
        {%- endset %}
        -- robust: the median of the trailing minutes' own means and standard deviations, so that one wild
        -- minute (a burst, or the event a detector reported a while ago) moves neither
        {{ lakeqa_window_median(minute_mean, 'previous_minutes') }} as {{ feature }}_trailing_center,
        {{ lakeqa_window_median(minute_std, 'previous_minutes') }} as {{ feature }}_trailing_scale,
        {%- endfor %}
        coalesce(sum(return_bipower_n) over previous_minutes, 0) as return_bipower_n,
        coalesce(sum(return_bipower_sum) over previous_minutes, 0) as return_bipower_sum,
        least(
            min(min_positive_spread_bp) over previous_minutes,
            min(min_positive_abs_return_bp) over previous_minutes
        ) as tick_bp
    from minute_partial_sums
    window previous_minutes as (
        partition by symbol
        order by minute_ts
        -- sqlfluff's duckdb dialect cannot parse an interval frame (valid DuckDB)
        range between interval {{ lookback_minutes }} minute preceding and interval 1 minute preceding  -- noqa: PRS
    )

),

window_bars_with_trailing_sums as (

    select
        bars.*,
        {%- for feature in features %}
        minutes.{{ feature }}_n as {{ feature }}_trailing_n,
        minutes.{{ feature }}_sum as {{ feature }}_trailing_sum,
        minutes.{{ feature }}_sum_sq as {{ feature }}_trailing_sum_sq,
        {%- endfor %}
        {%- for feature in zscore_features %}
        minutes.{{ feature }}_trailing_center,
        minutes.{{ feature }}_trailing_scale,
        {%- endfor %}
        minutes.return_bipower_n as return_bipower_trailing_n,
        minutes.return_bipower_sum as return_bipower_trailing_sum,
        minutes.tick_bp
    from bar_features as bars
    inner join minute_trailing_sums as minutes
        on bars.symbol = minutes.symbol
            and bars.minute_ts = minutes.minute_ts
    where bars.ts >= {{ window.start_ts }}

),

final as (

    select
        symbol,
        ts,
        date,
        close,
        trade_count,
        spread_bp,
        log_volume,
        vwap_drift_bp,
        return_1s,
        has_nonfinite_value,
        {%- for feature, (scale, clip) in features.items() %}
        cast({{ feature }}_trailing_n as bigint) as {{ feature }}_trailing_n,
        case
            when {{ feature }}_trailing_n > 0
                then cast({{ feature }}_trailing_sum as double) / {{ feature }}_trailing_n / {{ scale }}
        end as {{ feature }}_trailing_mean,
        case
            when {{ feature }}_trailing_n > 1
                then sqrt(
                        greatest(
                            cast(
                                {{ feature }}_trailing_n * {{ feature }}_trailing_sum_sq
                                - cast({{ feature }}_trailing_sum as {{ lakeqa_wide_integer() }})
                                * {{ feature }}_trailing_sum as double
                            ) / ({{ feature }}_trailing_n * ({{ feature }}_trailing_n - 1)),
                            0
                        )
                    ) / {{ scale }}
        end as {{ feature }}_trailing_std,
        {%- endfor %}
        {%- for feature in zscore_features %}
        {{ feature }}_trailing_center,
        {{ feature }}_trailing_scale,
        {%- endfor %}
        -- bipower sigma of return_1s: sqrt(pi / 2 x mean of |r_t| x |r_t-1|), which a jump (a single large
        -- return) barely moves, where it inflates the standard deviation for the whole next hour
        case
            when return_bipower_trailing_n > 0
                then sqrt(
                        pi() / 2 * cast(return_bipower_trailing_sum as double) / return_bipower_trailing_n
                    ) / {{ features.return_1s[0] }}
        end as return_1s_trailing_bipower_sigma,
        tick_bp
    from window_bars_with_trailing_sums

)

select * from final
