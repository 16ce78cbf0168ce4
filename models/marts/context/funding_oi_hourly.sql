{# grain: one row per funding/open-interest record as delivered (symbol, hour); duplicates are kept for R5 #}

with

funding as (

    select * from {{ ref('stg_lake__funding_oi_hourly') }}

),

final as (

    select
        symbol,
        ts,
        cast(ts as date) as date,
        funding_rate,
        open_interest
    from funding

)

select * from final
