{# grain: one row per symbol per second of the run's window that has a 1-second bar #}
{#
    The detectors' features per 1-second bar and their trailing statistics (see _detectors__models.yml
    for the exact definitions): each bar of the window (bar_features_per_second) joined to its minute's
    trailing sums (bar_features_per_minute), which every bar of that minute shares, turned into means,
    standard deviations and the bipower sigma of return_1s.
#}
{%- set window = lakeqa_window() -%}
{%- set zscore_features = lakeqa_zscore_features() -%}
{%- set features = lakeqa_feature_grid() -%}

with

-- the window's bars (the rows before it are the trailing minutes' lookback only)
window_bars as (

    select * from {{ ref('bar_features_per_second') }}
    where ts >= {{ window.start_ts }}

),

minute_trailing_sums as (

    select * from {{ ref('bar_features_per_minute') }}

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
    from window_bars as bars
    inner join minute_trailing_sums as minutes
        on bars.symbol = minutes.symbol
            and bars.minute_ts = minutes.minute_ts

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
