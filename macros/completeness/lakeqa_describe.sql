{#
    SQL expressions that write times and sizes the way a person reads them in violations and reasons.

    lakeqa_clock(ts_expr, day_start_expr) -> 'HH:MM' (or 'HH:MM:SS' off the minute); an end at the next
        midnight of day_start_expr is '24:00', so a range reads '10:00-24:00 UTC'.
    lakeqa_utc_range(start_expr, end_expr) -> 'HH:MM-HH:MM UTC', both clocks on start's day.
    lakeqa_duration(seconds_expr) -> '45 s', '90 min', '14 h', '1 h 30 min'.
    lakeqa_count(expr) -> an integer with thousands separators: '61,000'.
#}
{% macro lakeqa_clock(ts_expr, day_start_expr) -%}
    case
        when {{ ts_expr }} = {{ day_start_expr }} + interval 1 day then '24:00'
        when date_trunc('minute', {{ ts_expr }}) = {{ ts_expr }} then {{ lakeqa_format_ts(ts_expr, '%H:%M') }}
        else {{ lakeqa_format_ts(ts_expr, '%H:%M:%S') }}
    end
{%- endmacro %}


{% macro lakeqa_utc_range(start_expr, end_expr) -%}
    ({{ lakeqa_clock(start_expr, "date_trunc('day', " ~ start_expr ~ ")") }} || '–'
        || {{ lakeqa_clock(end_expr, "date_trunc('day', " ~ start_expr ~ ")") }} || ' UTC')
{%- endmacro %}


{% macro lakeqa_duration(seconds_expr) -%}
    case
        when {{ seconds_expr }} < 120 then cast(round({{ seconds_expr }}) as bigint) || ' s'
        when {{ seconds_expr }} < 7200 then cast(round({{ seconds_expr }} / 60) as bigint) || ' min'
        when round({{ seconds_expr }} / 60) % 60 = 0 then cast(round({{ seconds_expr }} / 3600) as bigint) || ' h'
        else cast(floor(round({{ seconds_expr }} / 60) / 60) as bigint) || ' h '
            || cast(round({{ seconds_expr }} / 60) % 60 as bigint) || ' min'
    end
{%- endmacro %}


{% macro lakeqa_count(expr) -%}
    {{ adapter.dispatch('lakeqa_count', 'lakeqa')(expr) }}
{%- endmacro %}

{% macro duckdb__lakeqa_count(expr) -%}
    format('{:,}', cast({{ expr }} as bigint))
{%- endmacro %}

{% macro spark__lakeqa_count(expr) -%}
    format_number(cast({{ expr }} as bigint), 0)
{%- endmacro %}
