{#
    lakeqa_window() -> the time window a run builds, from the vars `day`, `from` and `to`.

    Returns a dict:
      start_day, end_day   -- 'YYYY-MM-DD' strings, inclusive
      days                 -- every day in between, as 'YYYY-MM-DD'
      start_ts, end_ts     -- SQL timestamp literals: [start_ts, end_ts) is the window

    `day` accepts YYYY-MM-DD, TODAY, YESTERDAY (UTC) or LATEST (the newest date partition in the lake).
    `from` / `to` (inclusive) build a range and take precedence over `day`.
    Every value is checked against a strict pattern before it reaches SQL.
    Each window var comes from --vars if given there, else from env var LAKEQA_WINDOW (see
    lakeqa_window_var), else its default.

    Example:
      dbt build --select tag:daily --vars '{day: 2024-08-09}'
      dbt build --select tag:daily --vars '{from: 2024-08-08, to: 2024-08-09}'
#}
{% macro lakeqa_window() %}
    {% if lakeqa_window_var('mode', 'daily') == 'hourly' %}
        {{ return(lakeqa_hourly_window()) }}
    {% elif lakeqa_window_var('mode', 'daily') != 'daily' %}
        {{ exceptions.raise_compiler_error("lakeqa: var 'mode' must be daily or hourly, got " ~ (lakeqa_window_var('mode') | string | tojson)) }}
    {% endif %}
    {% set from_var = lakeqa_window_var('from') %}
    {% set to_var = lakeqa_window_var('to') %}
    {% if from_var or to_var %}
        {% set start_day = lakeqa_resolve_day(from_var or to_var, 'from') %}
        {% set end_day = lakeqa_resolve_day(to_var or from_var, 'to') %}
    {% else %}
        {% set start_day = lakeqa_resolve_day(lakeqa_window_var('day', 'LATEST'), 'day') %}
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
    {% if target.type == 'spark' %}
        {# the spark target's marts replace whole `date` partitions (insert_overwrite, dbt_project.yml): an
           hourly window would drop the rest of its day #}
        {{ exceptions.raise_compiler_error("lakeqa: hourly mode does not run on the spark target yet: its marts "
            ~ "replace whole days (README \"Running on Spark\"); run hourly on DuckDB or daily on Spark") }}
    {% endif %}
    {% set dt = modules.datetime %}
    {% set end_text = (lakeqa_window_var('hourly_end', 'NOW') | string) | trim %}
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


{#
    lakeqa_window_var(name, default=none) -> the value of window var `name` (day, from, to, mode, hourly_end):
    from --vars when given there, else from the JSON object in env var LAKEQA_WINDOW, else `default`.

    Why an env var: dbt parses the whole project again whenever its --vars change, about 5 s here, and a
    scheduled run changes the day every time. `lakeqa run` passes the window in LAKEQA_WINDOW instead, so
    dbt's saved parse (target/partial_parse.msgpack) is reused from one day to the next. The value is only
    ever read here, and every value is checked by lakeqa_window before it reaches SQL.

    Example: LAKEQA_WINDOW='{"from": "2024-08-08", "to": "2024-08-09"}' dbt build --select tag:daily
#}
{% macro lakeqa_window_var(name, default=none) %}
    {% if not execute %}
        {# parsing: the window shapes no config, so the env var is not read (dbt would re-parse every
           file that reads it whenever it changes) #}
        {{ return(var(name, default)) }}
    {% endif %}
    {% set text = env_var('LAKEQA_WINDOW', '') | trim %}
    {% set from_env = {} %}
    {% if text %}
        {% set parsed = fromjson(text) %}
        {% if parsed is not mapping %}
            {{ exceptions.raise_compiler_error("lakeqa: env var LAKEQA_WINDOW must be a JSON object such as "
                ~ "{\"day\": \"2024-08-09\"}, got " ~ (text | tojson)) }}
        {% endif %}
        {% set from_env = parsed %}
    {% endif %}
    {{ return(var(name, from_env.get(name, default))) }}
{% endmacro %}
