{# grain: one row per prebuilt 1-second bar as stored in the lake (symbol, second) #}
{% set window = lakeqa_window() %}
{% set prebuilt_bars_relation = source('lake', 'bars_1s') %}

with

prebuilt_bars as (

    {% if var('use_prebuilt_bars') %}
    select * from {{ lakeqa_read_lake(prebuilt_bars_relation, window.days) }}
    {% else %}
    -- prebuilt bars are only read when var use_prebuilt_bars is true
    select * from {{ lakeqa_empty_dataset(lakeqa_lake_contract()['bars_1s']) }}
    {% endif %}

),

final as (

    select
        cast(symbol as {{ dbt.type_string() }}) as symbol,
        cast(ts as timestamp) as ts,
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(close as double) as close,
        cast(volume_base as double) as volume_base,
        cast(volume_quote as double) as volume_quote,
        cast(trade_count as bigint) as trade_count,
        cast(vwap as double) as vwap,
        cast(bid as double) as bid,
        cast(ask as double) as ask,
        cast(spread as double) as spread,
        cast(spread_bps as double) as spread_bps
    from prebuilt_bars
    where ts >= {{ window.start_ts }}
        and ts < {{ window.end_ts }}

)

select * from final
