{# grain: one row per symbol per second that has trades #}

with

trades as (

    select * from {{ ref('stg_lake__trades') }}

),

trades_aggregated_to_seconds as (

    select
        symbol,
        date_trunc('second', ts) as ts,
        -- (ts, trade_id) orders trades that share a microsecond the way the exchange matched them
        {{ lakeqa_arg_min('price', lakeqa_time_id_order('ts', 'trade_id')) }} as open,
        {{ lakeqa_arg_max('price', lakeqa_time_id_order('ts', 'trade_id')) }} as close,
        max(price) as max_price,
        min(price) as min_price,
        -- max()/min() skip NULL and min() skips NaN; R4 must still see a second with a bad price
        bool_or(price is null or isnan(price)) as has_missing_price,
        -- exact sums: floating-point addition in another row order changes the last bits
        {{ lakeqa_exact_sum('qty') }} as volume_base,
        {{ lakeqa_exact_sum('coalesce(quote_qty, price * qty)') }} as volume_quote,
        {{ lakeqa_exact_sum('price * qty') }} as price_qty_sum,
        count(*) as trade_count,
        -- for coverage's C6_NULL_SHARE, in the same pass
        count(*) filter (where price is null or isnan(price)) as n_null_price,
        count(*) filter (where qty is null or isnan(qty)) as n_null_qty
    from trades
    group by symbol, date_trunc('second', ts)

),

final as (

    select
        symbol,
        ts,
        open,
        case when has_missing_price then cast('nan' as double) else max_price end as high,
        case when has_missing_price then cast('nan' as double) else min_price end as low,
        close,
        volume_base,
        volume_quote,
        trade_count,
        price_qty_sum / nullif(volume_base, 0) as vwap,
        n_null_price,
        n_null_qty
    from trades_aggregated_to_seconds

)

select * from final
