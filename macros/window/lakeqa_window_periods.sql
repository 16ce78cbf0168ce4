{#
    lakeqa_window_periods(period) -> SQL selecting every day (period 'day') or hour ('hour') that starts
    inside the run's window: its start `ts` and its `period_end` (the next start, the window's end at the
    latest). The periods a verdict, a coverage row and a per-period completeness check are given for.

    Example:
      periods as ({{ lakeqa_window_periods('day' if lakeqa_window().mode == 'daily' else 'hour') }}),
#}
{% macro lakeqa_window_periods(period) -%}
    {%- if period not in ('day', 'hour') -%}
        {{ exceptions.raise_compiler_error("lakeqa_window_periods: period must be 'day' or 'hour', got " ~ period) }}
    {%- endif -%}
    {%- set window = lakeqa_window() -%}
    select
        ts,
        least(ts + interval 1 {{ period }}, {{ window.end_ts }}) as period_end
    from (
        select {{ lakeqa_timestamp_series(
            "date_trunc('" ~ period ~ "', " ~ window.start_ts ~ " - interval 1 microsecond) + interval 1 " ~ period,
            window.end_ts ~ " - interval 1 microsecond",
            "interval 1 " ~ period) }} as ts
    )
{%- endmacro %}
