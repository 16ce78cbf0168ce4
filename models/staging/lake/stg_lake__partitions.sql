{# grain: one row per lake file of the run's days and the day before (dataset, symbol, date, file) #}
{% set window = lakeqa_window() %}
{% set day_before = (modules.datetime.datetime.strptime(window.start_day, '%Y-%m-%d')
                     - modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d') %}
{# the lake's inventory is read from its folder names only; the datasets are the sources below #}
{% set lake_sources = [source('lake', 'trades'), source('lake', 'quotes'),
                       source('lake', 'klines_1m'), source('lake', 'bars_1s')] %}

with

lake_files as (

    {{ lakeqa_lake_inventory([day_before] + window.days) }}

)

select * from lake_files
