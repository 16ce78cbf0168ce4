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
