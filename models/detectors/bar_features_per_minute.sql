{# grain: one row per symbol and UTC minute with a 1-second bar, of the run's window and the lookback before it #}
{#
    The second step of bar_features: for each symbol and minute, the trailing statistics every bar of that
    minute shares: the `lookback_minutes` whole minutes before it (the minute itself left out), summed from
    per-minute partial sums of the features' fixed-point units (exact integers, so they do not depend on
    the order in which the engine's threads add rows up), the robust center and scale of the z-score
    features (medians of the trailing minutes' own means and standard deviations) and the tick. Per-row
    RANGE frames cost seconds per feature over a million rows; the bar's own minute so far (a running sum
    within the minute, 17 window aggregates) doubled the time and memory (10 M-trade day: 3.2 s, 6.1 CPU-s,
    780 MB against 1.6 s, 3.0 CPU-s, 430 MB without it).
#}
{%- set window_s = lakeqa_setting_number('zscore.window_s') | int -%}
{%- set lookback_minutes = (window_s + 59) // 60 -%}
{%- set zscore_features = lakeqa_zscore_features() -%}
{%- set features = lakeqa_feature_grid() -%}
{%- set return_units = features.return_1s[0] -%}

with

bar_features_per_second as (

    select * from {{ ref('bar_features_per_second') }}

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
    from bar_features_per_second

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

)

select * from minute_trailing_sums
