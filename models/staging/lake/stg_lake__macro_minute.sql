{# grain: one row per macro minute bar as delivered (symbol, minute); duplicates kept for R5 #}
{% set window = lakeqa_window() %}

with

macro_bars as (

    select * from {{ lakeqa_read_lake(source('lake', 'macro_minute'), window.days) }}

),

final as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
        cast(ts as timestamp) as ts,
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(close as double) as close,
        cast(volume as double) as volume
    from macro_bars
    where ts >= {{ window.start_ts }}
        and ts < {{ window.end_ts }}

)

select * from final
