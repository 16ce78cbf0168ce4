{# grain: one row per symbol, judged day of the run's window and bar of that day's IsolationForest training sample #}
{#
    IsolationForest's training rows: for each symbol and judged day D, the symbol's bars of its
    training-eligible days before D (iforest_training_days), with the four raw features exactly as
    bar_features computes them, non-finite bars left out, and at most iforest.fit_sample_size of them: the
    bars with the smallest hash(symbol, ts), a deterministic sample that does not depend on the order in
    which rows are stored or read, nor on any other symbol. Kept lean on purpose: bar_features covers the
    window only, and widening it to the training days would compute its trailing statistics for a week of
    bars nobody z-scores.

    The features must equal bar_features' (tests/python/test_iforest_e2e.py compares them bar by bar): the
    same expressions (macro lakeqa_bar_feature_columns), the same fixed-point grid (lakeqa_feature_grid), and
    return_1s from the symbol's previous bar if that bar is at most zscore.window_s old, which is why the
    bars are read from window_s before the first training day.
#}
{%- set window = lakeqa_window() -%}
{%- set training_days = lakeqa_setting_number('detectors.training_days') | int -%}
{%- set window_s = lakeqa_setting_number('zscore.window_s') | int -%}
{%- set fit_sample_size = lakeqa_setting_number('iforest.fit_sample_size') | int -%}
{%- set grid = lakeqa_feature_grid() -%}

with

training_days as (

    select * from {{ ref('iforest_training_days') }}
    where is_training_eligible

),

bars_1s as (

    select * from {{ ref('bars_1s') }}
    where ts >= date_trunc('day', {{ window.start_ts }})
        - interval {{ training_days }} day
        - interval {{ window_s }} second
        and ts < date_trunc('day', {{ window.end_ts }} - interval 1 microsecond)
        -- with var enable_ai false IsolationForest does not run: nothing to train
        and {{ 'true' if lakeqa_iforest_runs() else 'false' }}

),

bars_with_previous_bar as (

    select
        *,
        lag(close) over bars_of_symbol as previous_close,
        lag(ts) over bars_of_symbol as previous_ts
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
        {{ lakeqa_bar_feature_columns(window_s) }}
    from bars_with_previous_bar

),

training_candidates as (

    select
        training_days.judged_date,
        bars.symbol,
        bars.ts,
        {%- for feature, (units, clip) in grid.items() %}
        round(bars.{{ feature }} * {{ units }}) / {{ units }} as {{ feature }},
        {%- endfor %}
        hash(bars.symbol, bars.ts) as sample_key
    from bar_features_exact as bars
    inner join training_days
        on bars.symbol = training_days.symbol
            and bars.date = training_days.date
    where not bars.has_nonfinite_value

),

training_sample as (

    select
        judged_date,
        symbol,
        ts,
        {%- for feature in grid %}
        {{ feature }},
        {%- endfor %}
        count(*) over (partition by symbol, judged_date) as n_training_bars,
        row_number() over (
            partition by symbol, judged_date
            order by sample_key, ts
        ) as sample_rank
    from training_candidates

),

final as (

    select * from training_sample
    where sample_rank <= {{ fit_sample_size }}

)

select * from final
