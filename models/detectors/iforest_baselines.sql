{# grain: one row per symbol per UTC day of the run's window on which the symbol has bars in the window #}
{#
    What IsolationForest judges each symbol-day of the window against: `history`, a forest trained on the
    symbol's clean bars of the days before (iforest_training_days, iforest_training_bars), when it has at
    least iforest.min_training_bars of them; otherwise `cold_start`, a forest fitted on the day itself. The
    detector (anomalies_iforest) follows this table, and the fusion names a cold start in its reason.
#}
{%- set min_training_bars = lakeqa_setting_number('iforest.min_training_bars') | int -%}

with

bars_1s as (

    select * from {{ ref('bars_1s') }}
    where {{ lakeqa_in_window('ts') }}

),

training_days as (

    select * from {{ ref('iforest_training_days') }}

),

training_bars as (

    select * from {{ ref('iforest_training_bars') }}

),

judged_symbol_days as (

    select distinct
        symbol,
        date
    from bars_1s

),

training_day_summaries as (

    select
        symbol,
        judged_date as date,
        count(*) filter (where is_training_eligible) as n_training_days,
        count(*) filter (where not is_training_eligible) as n_days_left_out,
        coalesce({{ lakeqa_sorted_list('date', 'is_training_eligible') }}, {{ lakeqa_array([]) }}) as training_dates
    from training_days
    group by all

),

training_bar_counts as (

    select
        symbol,
        judged_date as date,
        max(n_training_bars) as n_training_bars,
        count(*) as n_sampled_bars
    from training_bars
    group by all

),

baselines as (

    select
        judged_symbol_days.symbol,
        judged_symbol_days.date,
        coalesce(training_day_summaries.n_training_days, 0) as n_training_days,
        coalesce(training_day_summaries.n_days_left_out, 0) as n_days_left_out,
        coalesce(training_day_summaries.training_dates, {{ lakeqa_array([]) }}) as training_dates,
        coalesce(training_bar_counts.n_training_bars, 0) as n_training_bars,
        coalesce(training_bar_counts.n_sampled_bars, 0) as n_sampled_bars,
        case
            when coalesce(training_bar_counts.n_training_bars, 0) >= {{ min_training_bars }} then 'history'
            else 'cold_start'
        end as baseline
    from judged_symbol_days
    left join training_day_summaries using (symbol, date)
    left join training_bar_counts using (symbol, date)

)

select * from baselines
