{# grain: one row per funding/open-interest record as delivered (symbol, hour); duplicates kept for R5 #}
{% set window = lakeqa_window() %}

with

funding as (

    select * from {{ lakeqa_read_lake(source('lake', 'funding_oi_hourly'), window.days) }}

),

final as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
        cast(ts as timestamp) as ts,
        cast(funding_rate as double) as funding_rate,
        cast(open_interest as double) as open_interest
    from funding
    where ts >= {{ window.start_ts }}
        and ts < {{ window.end_ts }}

)

select * from final
