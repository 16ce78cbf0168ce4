{# grain: one row per symbol, 1-second bar of the run's window and detector (the three z-scores and JUMP) #}
{#
    The per-bar score of every z-score detector and of JUMP: the one place their formulas live
    (_detectors__models.yml describes them). A view: pure arithmetic on bar_features, read by
    detector_extremes (the background: count and max of abs_z over the scored bars) and by
    anomalies_zscore / anomalies_jump (the candidates: scored bars with abs_z above the detector's k;
    a record's threshold max(k, the learned background) is never below k, so no other bar can be one).

    Comparisons are written for DuckDB, where NaN is larger than every number (NaN >= 50 is true) and
    greatest() returns NaN if any argument is NaN: a missing or non-finite value is turned into 0 (a
    sigma or floor that is not known) or fails the isfinite() test explicitly, never compared.
    Settings are parsed from their text as doubles, so that the literals equal the Python floats exactly.
#}
{{ config(materialized='view') }}

{%- set k = "cast('" ~ lakeqa_setting_number('zscore.k') ~ "' as double)" -%}
{%- set k_sigma = "cast('" ~ lakeqa_setting_number('jump.k_sigma') ~ "' as double)" -%}
{%- set min_obs = lakeqa_setting_number('zscore.min_obs') | int -%}
{%- set sigma_floor_log_volume = "cast('" ~ lakeqa_setting_number('zscore.sigma_floor_log_volume') ~ "' as double)" -%}
{%- set spread_stable_bps = "cast('" ~ lakeqa_setting_number('jump.spread_stable_bps') ~ "' as double)" -%}
{%- set min_trade_count = lakeqa_setting_number('jump.min_trade_count') | int -%}
{#- z-score detector -> its feature -#}
{%- set zscore_detectors = {
    'ZSCORE_SPREAD_BP': 'spread_bp',
    'ZSCORE_LOG_VOLUME': 'log_volume',
    'ZSCORE_VWAP_DRIFT_BP': 'vwap_drift_bp',
} -%}
{#- the columns a record carries besides its score (the labeler and the records' features JSON) -#}
{%- set bar_columns = 'spread_bp, log_volume, vwap_drift_bp, return_1s, trade_count' -%}
{#- the score of a row, the same for every detector -#}
{%- set score_columns = [
    'symbol', 'ts', 'detector', 'feature', 'feature_value', 'trailing_n', 'trailing_center', 'trailing_scale',
    'sigma', 'z', 'abs(z) as abs_z',
] | join(', ') -%}

with

bar_features as (

    select * from {{ ref('bar_features') }}

),

sigma_floors as (

    -- the floor of each feature's sigma (0 where none is known): one price tick for the features that
    -- move in ticks, and for vwap_drift_bp at least the symbol's one-second return volatility in bp
    -- the columns read below, not bar_features' every statistic: the CTE is read four times, so DuckDB
    -- materializes it, and each of the three models reading this view side by side held its own copy
    select
        symbol,
        ts,
        {{ bar_columns }},
        {%- for feature in zscore_detectors.values() %}
        {{ feature }}_trailing_n,
        {{ feature }}_trailing_center,
        {{ feature }}_trailing_scale,
        {%- endfor %}
        return_1s_trailing_n,
        return_1s_trailing_bipower_sigma,
        case when {{ lakeqa_isfinite('tick_bp') }} then tick_bp else 0 end as tick_floor_bp,
        case
            when {{ lakeqa_isfinite('return_1s_trailing_bipower_sigma * 1e4') }}
                then return_1s_trailing_bipower_sigma * 1e4
            else 0
        end as return_sigma_floor_bp,
        -- JUMP: one tick as a return (tick_bp / 1e4)
        case when {{ lakeqa_isfinite('tick_bp / 1e4') }} then tick_bp / 1e4 else 0 end as tick_floor_return,
        case
            when {{ lakeqa_isfinite('return_1s_trailing_bipower_sigma') }} then return_1s_trailing_bipower_sigma else 0
        end as bipower_sigma_or_0
    from bar_features

),

zscore_inputs as (

    {%- for detector, feature in zscore_detectors.items() %}
    {%- if feature == 'spread_bp' %}
    {%- set floor = 'tick_floor_bp' %}
    {%- elif feature == 'vwap_drift_bp' %}
    {%- set floor = 'greatest(tick_floor_bp, return_sigma_floor_bp)' %}
    {%- else %}
    {%- set floor = sigma_floor_log_volume %}
    {%- endif %}
    select
        symbol,
        ts,
        '{{ detector }}' as detector,
        '{{ feature }}' as feature,
        {{ feature }} as feature_value,
        {{ feature }}_trailing_n as trailing_n,
        {{ feature }}_trailing_center as trailing_center,
        {{ feature }}_trailing_scale as trailing_scale,
        greatest(
            case when {{ lakeqa_isfinite(feature ~ '_trailing_scale') }} then {{ feature }}_trailing_scale else 0 end,
            {{ floor }}
        ) as sigma,
        {{ bar_columns }}
    from sigma_floors
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

zscores as (

    select
        *,
        coalesce(
            {{ lakeqa_isfinite('feature_value') }} and {{ lakeqa_isfinite('trailing_center') }}
            and trailing_n >= {{ min_obs }} and sigma > 0,
            false
        ) as is_scorable
    from zscore_inputs

),

zscores_scored as (

    -- final picks the columns by name
    select
        *,
        case when is_scorable then (feature_value - trailing_center) / sigma end as z,
        {{ k }} as k
    from zscores

),

jump_inputs as (

    select
        symbol,
        ts,
        'JUMP' as detector,
        'return_1s' as feature,
        return_1s as feature_value,
        return_1s_trailing_n as trailing_n,
        -- returns are judged against 0: no center
        cast(null as double) as trailing_center,
        return_1s_trailing_bipower_sigma as trailing_scale,
        greatest(bipower_sigma_or_0, tick_floor_return) as sigma,
        {{ bar_columns }}
    from sigma_floors

),

jumps as (

    select
        *,
        coalesce(
            {{ lakeqa_isfinite('feature_value') }} and trailing_n >= {{ min_obs }} and sigma > 0, false
        ) as is_scorable,
        -- a calm book: a bar without a fresh quote (spread NULL) or with a NaN spread is not excluded
        spread_bp is null or isnan(spread_bp) or spread_bp < {{ spread_stable_bps }} as is_calm_book,
        coalesce(trade_count >= {{ min_trade_count }}, false) as is_busy_second
    from jump_inputs

),

jumps_scored as (

    select
        *,
        -- signed: the direction of the move; JUMP thresholds |return_1s| / sigma
        case when is_scorable then feature_value / sigma end as z,
        {{ k_sigma }} as k,
        is_scorable and is_calm_book and is_busy_second as is_gated
    from jumps

),

final as (

    -- the z-scores score every bar with a finite z, JUMP the bars its gates pass
    select
        {{ score_columns }},
        coalesce({{ lakeqa_isfinite('z') }}, false) as scored,
        k,
        {{ bar_columns }}
    from zscores_scored

    union all

    select
        {{ score_columns }},
        is_gated as scored,
        k,
        {{ bar_columns }}
    from jumps_scored

)

select * from final
