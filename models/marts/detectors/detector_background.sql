{# grain: one row per symbol, UTC day and detector (ZSCORE_* and JUMP) of the days built in daily mode #}
{% set window = lakeqa_window() %}

with

day_extremes as (

    select * from {{ ref('detector_extremes') }}

),

final as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
        cast(date as date) as date,
        cast(detector as {{ dbt.type_string() }}) as detector,
        cast(n_scored as bigint) as n_scored,
        cast(max_abs_z as double) as max_abs_z
    from day_extremes
    -- the background of whole days only: an hourly run's part of a day is not stored
    where {{ 'true' if window.mode == 'daily' else 'false' }}
        and date >= cast({{ window.start_ts }} as date)
        and date < {{ window.end_ts }}

)

select * from final
order by symbol, date, detector
