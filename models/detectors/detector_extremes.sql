{# grain: one row per symbol, UTC day of the run's window and detector (the three z-scores and JUMP) #}
{#
    The largest |z| of each z-score detector and of JUMP per symbol and UTC day, over the bars each
    detector scored (bar_scores.scored), bars with a violation of bars_1s left out (a broken bar is not
    the market's background): the background the thresholds of later days are learned from (the mart
    detector_background keeps it; src/lakeqa/detectors/background.py). With var enable_ai false: no rows.
#}

with

scored_bars as (

    select
        symbol,
        ts,
        detector,
        abs_z
    from {{ ref('bar_scores') }}
    where scored
        and {{ 'true' if var('enable_ai') else 'false' }}

),

bars_with_a_violation as (

    select distinct
        symbol,
        ts
    from {{ ref('violations') }}
    where source_table = 'bars_1s'

),

clean_scored_bars as (

    select scored_bars.*
    from scored_bars
    left join bars_with_a_violation
        on scored_bars.symbol = bars_with_a_violation.symbol
            and scored_bars.ts = bars_with_a_violation.ts
    where bars_with_a_violation.ts is null

),

final as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
        cast(date_trunc('day', ts) as timestamp) as date,
        cast(detector as {{ dbt.type_string() }}) as detector,
        cast(count(abs_z) as bigint) as n_scored,
        cast(max(abs_z) as double) as max_abs_z
    from clean_scored_bars
    group by 1, 2, 3

)

select * from final
order by 1, 2, 3
