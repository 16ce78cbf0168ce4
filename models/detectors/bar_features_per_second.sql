{# grain: one row per symbol per second with a 1-second bar, of the run's window and the lookback before it #}
{#
    The first step of bar_features: each 1-second bar's features on their fixed-point grid (macro
    lakeqa_feature_grid) and the previous bar's return (for the bipower variation), for the run's window and
    the `lookback_minutes` whole minutes before it, whose bars only feed the trailing statistics
    (bar_features_per_minute). The grid also absorbs the last-bit noise of the bars' floating-point sums
    (volume, vwap), so a rebuild gives byte-identical features unless a value sits within that noise of a
    grid boundary.

    Why three models and not one: the single model held its window functions, the join of every bar to its
    minute and the write of 30 columns at once, ~490 MB at its peak on a 10 M-trade day beside whatever
    else the build ran then (the run's memory peak); in three steps the largest holds ~210 MB, with the
    same rows in bar_features (benchmarks/HISTORY.md).
#}
{%- set window = lakeqa_window() -%}
{%- set window_s = lakeqa_setting_number('zscore.window_s') | int -%}
{%- set lookback_minutes = (window_s + 59) // 60 -%}
{%- set features = lakeqa_feature_grid() -%}

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
        {{ lakeqa_bar_feature_columns(window_s) }},
        -- the previous bar's return, defined the same way: |return_1s| x |previous return| is the term of
        -- the bipower variation, a return variance that a single jump barely moves
        case
            when second_previous_ts >= previous_ts - interval {{ window_s }} second
                and previous_ts >= ts - interval {{ window_s }} second
                and previous_close > 0 and second_previous_close > 0
                then ln(previous_close / second_previous_close)
        end as previous_return_1s
    from bars_with_previous_bar

),

final as (

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

)

select * from final
