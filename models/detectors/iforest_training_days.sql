{# grain: one row per symbol, judged day of the run's window and earlier day of its training span with bars #}
{#
    Which of a symbol's days IsolationForest may learn from: for each UTC day D the window judges, the days
    [D - detectors.training_days, D) on which the symbol has 1-second bars, and whether each is clean enough.
    A day is left out when the fusion judges it FAIL whatever the detectors say: any critical violation in
    `violations` (of any table), or a schema score that alone keeps the fusion's score below
    fusion.review_score (macro lakeqa_fails_whatever_the_detectors, the fusion's own weights). Only
    upstream tables are read (bars_1s and violations keep every day built; the fusion is downstream), so a
    day judged alone and the same day judged inside a range see the same training days.
#}
{%- set window = lakeqa_window() -%}
{%- set training_days = lakeqa_setting_number('detectors.training_days') | int -%}
{%- if training_days < 1 -%}
    {{ exceptions.raise_compiler_error("lakeqa: setting 'detectors.training_days' must be at least 1, got "
        ~ training_days) }}
{%- endif -%}

with

bars_1s as (

    select * from {{ ref('bars_1s') }}
    where ts >= date_trunc('day', {{ window.start_ts }}) - interval {{ training_days }} day
        and ts < date_trunc('day', {{ window.end_ts }} - interval 1 microsecond)

),

violations as (

    select * from {{ ref('violations') }}
    where ts >= date_trunc('day', {{ window.start_ts }}) - interval {{ training_days }} day
        and ts < date_trunc('day', {{ window.end_ts }} - interval 1 microsecond)

),

-- every UTC day the window touches (an hourly window across midnight judges two)
judged_days as (

    select cast(day_start as date) as judged_date
    from (
        select {{ lakeqa_timestamp_series("date_trunc('day', " ~ window.start_ts ~ ")",
                                          window.end_ts ~ ' - interval 1 microsecond',
                                          'interval 1 day') }} as day_start
    ) as window_days

),

bar_counts as (

    select
        symbol,
        date,
        count(*) as n_bars
    from bars_1s
    group by all

),

violation_counts as (

    select
        symbol,
        cast(ts as date) as date,
        count(*) filter (where severity = 'critical') as n_violations_critical,
        count(*) filter (where severity = 'major') as n_violations_major,
        count(*) filter (where severity = 'minor') as n_violations_minor
    from violations
    group by all

),

symbol_days as (

    select
        bar_counts.symbol,
        bar_counts.date,
        bar_counts.n_bars,
        coalesce(violation_counts.n_violations_critical, 0) as n_violations_critical,
        coalesce(violation_counts.n_violations_major, 0) as n_violations_major,
        coalesce(violation_counts.n_violations_minor, 0) as n_violations_minor
    from bar_counts
    left join violation_counts using (symbol, date)

),

training_span_days as (

    select
        symbol_days.symbol,
        judged_days.judged_date,
        symbol_days.date,
        symbol_days.n_bars,
        symbol_days.n_violations_critical,
        symbol_days.n_violations_major,
        symbol_days.n_violations_minor,
        {{ lakeqa_schema_score('symbol_days.n_violations_critical', 'symbol_days.n_violations_major',
                               'symbol_days.n_violations_minor') }} as schema_score,
        {{ lakeqa_fails_whatever_the_detectors('symbol_days.n_violations_critical',
                                               'symbol_days.n_violations_major',
                                               'symbol_days.n_violations_minor') }} as is_certain_fail
    from judged_days
    inner join symbol_days
        on symbol_days.date >= judged_days.judged_date - {{ training_days }}
            and symbol_days.date < judged_days.judged_date

),

final as (

    select
        *,
        not is_certain_fail as is_training_eligible
    from training_span_days

)

select * from final
