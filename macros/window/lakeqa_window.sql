{#
    lakeqa_window() -> the time window a run builds, from the vars `day`, `from` and `to`.

    Returns a dict:
      start_day, end_day   -- 'YYYY-MM-DD' strings, inclusive
      days                 -- every day in between, as 'YYYY-MM-DD'
      start_ts, end_ts     -- SQL timestamp literals: [start_ts, end_ts) is the window

    `day` accepts YYYY-MM-DD, TODAY, YESTERDAY (UTC) or LATEST (the newest date partition in the lake).
    `from` / `to` (inclusive) build a range and take precedence over `day`.
    Every value is checked against a strict pattern before it reaches SQL.

    Example:
      dbt build --select tag:daily --vars '{day: 2024-08-09}'
      dbt build --select tag:daily --vars '{from: 2024-08-08, to: 2024-08-09}'
#}
{% macro lakeqa_window() %}
    {% if var('mode', 'daily') == 'hourly' %}
        {{ return(lakeqa_hourly_window()) }}
    {% elif var('mode', 'daily') != 'daily' %}
        {{ exceptions.raise_compiler_error("lakeqa: var 'mode' must be daily or hourly, got " ~ (var('mode') | string | tojson)) }}
    {% endif %}
    {% set from_var = var('from', none) %}
    {% set to_var = var('to', none) %}
    {% if from_var or to_var %}
        {% set start_day = lakeqa_resolve_day(from_var or to_var, 'from') %}
        {% set end_day = lakeqa_resolve_day(to_var or from_var, 'to') %}
    {% else %}
        {% set start_day = lakeqa_resolve_day(var('day', 'LATEST'), 'day') %}
        {% set end_day = start_day %}
    {% endif %}

    {% set dt = modules.datetime %}
    {% set start_date = dt.datetime.strptime(start_day, '%Y-%m-%d') %}
    {% set end_date = dt.datetime.strptime(end_day, '%Y-%m-%d') %}
    {% if end_date < start_date %}
        {{ exceptions.raise_compiler_error("lakeqa: var 'to' (" ~ end_day ~ ") is before 'from' (" ~ start_day ~ ")") }}
    {% endif %}
    {% set n_days = (end_date - start_date).days + 1 %}
    {% if n_days > 3660 %}
        {{ exceptions.raise_compiler_error("lakeqa: window of " ~ n_days ~ " days is more than ten years; check 'from'/'to'") }}
    {% endif %}
    {% set days = [] %}
    {% for i in range(n_days) %}
        {% do days.append((start_date + dt.timedelta(days=i)).strftime('%Y-%m-%d')) %}
    {% endfor %}
    {% set end_exclusive = (end_date + dt.timedelta(days=1)).strftime('%Y-%m-%d') %}

    {{ return({
        'start_day': start_day,
        'end_day': end_day,
        'days': days,
        'start_ts': "timestamp '" ~ start_day ~ " 00:00:00'",
        'end_ts': "timestamp '" ~ end_exclusive ~ " 00:00:00'",
        'mode': 'daily',
    }) }}
{% endmacro %}


{#
    lakeqa_hourly_window() -> the same dict for hourly mode: the last var hourly_window_min minutes
    (default 90) up to var hourly_end ('YYYY-MM-DD HH:MM' UTC, or NOW), floored to the minute, so that a
    minute bar is never replaced by a partial one.
#}
{% macro lakeqa_hourly_window() %}
    {% set dt = modules.datetime %}
    {% set end_text = (var('hourly_end', 'NOW') | string) | trim %}
    {% if end_text | upper == 'NOW' %}
        {% set end = dt.datetime.utcnow().replace(second=0, microsecond=0) %}
    {% elif modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}', end_text) %}
        {% set end = dt.datetime.strptime(lakeqa_resolve_day(end_text[0:10], 'hourly_end') ~ ' ' ~ end_text[11:16], '%Y-%m-%d %H:%M') %}
    {% else %}
        {{ exceptions.raise_compiler_error("lakeqa: var 'hourly_end' must be 'YYYY-MM-DD HH:MM' or NOW, got " ~ (end_text | tojson)) }}
    {% endif %}
    {% set minutes = var('hourly_window_min', 90) | int %}
    {% if minutes < 1 or minutes > 1440 %}
        {{ exceptions.raise_compiler_error("lakeqa: var 'hourly_window_min' must be 1..1440, got " ~ minutes) }}
    {% endif %}
    {% set start = end - dt.timedelta(minutes=minutes) %}
    {% set days = [start.strftime('%Y-%m-%d')] %}
    {% if (end - dt.timedelta(microseconds=1)).strftime('%Y-%m-%d') != days[0] %}
        {% do days.append((end - dt.timedelta(microseconds=1)).strftime('%Y-%m-%d')) %}
    {% endif %}
    {{ return({
        'start_day': days[0],
        'end_day': days[-1],
        'days': days,
        'start_ts': "timestamp '" ~ start.strftime('%Y-%m-%d %H:%M:%S') ~ "'",
        'end_ts': "timestamp '" ~ end.strftime('%Y-%m-%d %H:%M:%S') ~ "'",
        'mode': 'hourly',
    }) }}
{% endmacro %}


{#
    lakeqa_resolve_day(value, name) -> 'YYYY-MM-DD'

    Turns a day var into a checked date string. `name` is the var's name, for the error message.
#}
{% macro lakeqa_resolve_day(value, name) %}
    {% set dt = modules.datetime %}
    {% set text = (value | string) | trim %}
    {% set upper = text | upper %}
    {% if upper == 'TODAY' %}
        {{ return(dt.datetime.utcnow().strftime('%Y-%m-%d')) }}
    {% elif upper == 'YESTERDAY' %}
        {{ return((dt.datetime.utcnow() - dt.timedelta(days=1)).strftime('%Y-%m-%d')) }}
    {% elif upper == 'LATEST' %}
        {{ return(lakeqa_latest_lake_day()) }}
    {% endif %}
    {% if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) %}
        {{ exceptions.raise_compiler_error(
            "lakeqa: var '" ~ name ~ "' must be YYYY-MM-DD, TODAY, YESTERDAY or LATEST; got " ~ (text | tojson)) }}
    {% endif %}
    {% set year, month, day_of_month = text[0:4] | int, text[5:7] | int, text[8:10] | int %}
    {% set is_real_day = year >= 1970 and 1 <= month <= 12 and 1 <= day_of_month <= 31
        and (dt.date(year, month, 1) + dt.timedelta(days=day_of_month - 1)).month == month %}
    {% if not is_real_day %}
        {{ exceptions.raise_compiler_error("lakeqa: var '" ~ name ~ "' is not a calendar day: " ~ (text | tojson)) }}
    {% endif %}
    {{ return(text) }}
{% endmacro %}
