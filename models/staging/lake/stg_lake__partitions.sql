{# grain: one row per lake file of the run's days and the trailing expected_lookback_days before them #}
{% set window = lakeqa_window() %}
{% set lookback_days = lakeqa_setting_number('expected_lookback_days') | int %}
{% if lookback_days < 1 or lookback_days > 366 %}
    {{ exceptions.raise_compiler_error("lakeqa: var 'expected_lookback_days' must be 1..366, got " ~ lookback_days) }}
{% endif %}
{% set first_day = modules.datetime.datetime.strptime(window.start_day, '%Y-%m-%d') %}
{% set days_before = [] %}
{% for n in range(lookback_days, 0, -1) %}
{% do days_before.append((first_day - modules.datetime.timedelta(days=n)).strftime('%Y-%m-%d')) %}
{% endfor %}
{# the lake's inventory is read from its folder names only; the datasets are the sources below #}
{% set lake_sources = [source('lake', 'trades'), source('lake', 'quotes'),
                       source('lake', 'klines_1m'), source('lake', 'bars_1s'),
                       source('lake', 'funding_oi_hourly'), source('lake', 'macro_minute')] %}

with

lake_files as (

    {{ lakeqa_lake_inventory(days_before + window.days) }}

)

select * from lake_files
