{# grain: one row per macro minute bar as delivered (symbol, minute); duplicates are kept for R5 #}

with

macro_bars as (

    select * from {{ ref('stg_lake__macro_minute') }}

),

final as (

    select
        symbol,
        ts,
        cast(ts as date) as date,
        open,
        high,
        low,
        close,
        volume
    from macro_bars

)

select * from final
