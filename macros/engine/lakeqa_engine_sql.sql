{#
    SQL that DuckDB and Spark spell differently, behind adapter.dispatch (dbt-utils style: `duckdb__` is the
    embedded default, `spark__` the dbt-spark target, README "Running on Spark"). A model writes the macro;
    each engine gets its own text, and DuckDB's is exactly what the model held before, so its plans and
    speed do not change.

      lakeqa_arg_min(value, order_by)  the value of the row with the smallest order_by (a column, or a list
      lakeqa_arg_max(value, order_by)  of columns compared left to right); a NULL value is returned as it is
                                       (DuckDB arg_min_null / Spark min_by), rows with a NULL order_by skipped
      lakeqa_time_id_order(ts, id)     one value ordering rows as the row (ts, id) does (see below)
      lakeqa_struct(fields)            a struct from a dict name -> SQL expression; fields read as s['name']
      lakeqa_seconds(seconds)          an interval of a (possibly fractional) number of seconds

    Example (bars_1m):
      {{ lakeqa_arg_min('open', 'ts') }} as open,
      {{ lakeqa_arg_max(lakeqa_struct({'bid': 'bid_price', 'ask': 'ask_price'}), ['ts', 'update_id']) }} as book
#}
{% macro lakeqa_arg_min(value, order_by) %}
    {{ return(adapter.dispatch('lakeqa_arg_min', 'lakeqa')(value, lakeqa_order_key(order_by))) }}
{% endmacro %}

{% macro duckdb__lakeqa_arg_min(value, order_key) %}
    {{ return('arg_min_null(' ~ value ~ ', ' ~ order_key ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_arg_min(value, order_key) %}
    {{ return('min_by(' ~ value ~ ', ' ~ order_key ~ ')') }}
{% endmacro %}


{% macro lakeqa_arg_max(value, order_by) %}
    {{ return(adapter.dispatch('lakeqa_arg_max', 'lakeqa')(value, lakeqa_order_key(order_by))) }}
{% endmacro %}

{% macro duckdb__lakeqa_arg_max(value, order_key) %}
    {{ return('arg_max_null(' ~ value ~ ', ' ~ order_key ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_arg_max(value, order_key) %}
    {{ return('max_by(' ~ value ~ ', ' ~ order_key ~ ')') }}
{% endmacro %}


{# One ordering value from a column or a list of columns: a row (tuple) compared field by field. #}
{% macro lakeqa_order_key(order_by) %}
    {% if order_by is string %}
        {{ return(order_by) }}
    {% endif %}
    {{ return(adapter.dispatch('lakeqa_order_key', 'lakeqa')(order_by)) }}
{% endmacro %}

{% macro duckdb__lakeqa_order_key(columns) %}
    {{ return('(' ~ columns | join(', ') ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_order_key(columns) %}
    {{ return('struct(' ~ columns | join(', ') ~ ')') }}
{% endmacro %}


{#
    lakeqa_time_id_order(ts, id) -> one value that orders rows as the row (ts, id) does, for arg_min/arg_max:
    by time, then by the exchange's id among rows of one microsecond, a NULL id after every id of its ts.
    DuckDB: a HUGEINT, the epoch microseconds above the id shifted to be non-negative (2^65 apart, so the
    id never reaches the next microsecond); comparing it is cheaper than comparing a row: 10 M trades'
    open and close, the same rows, 2.6 s -> 2.2 s. A NULL ts gives NULL, a row arg_min/arg_max skip
    (staging keeps the window's rows, whose ts is never NULL). Spark: the struct, as lakeqa_order_key.
#}
{% macro lakeqa_time_id_order(ts, id) %}
    {{ return(adapter.dispatch('lakeqa_time_id_order', 'lakeqa')(ts, id)) }}
{% endmacro %}

{% macro duckdb__lakeqa_time_id_order(ts, id) %}
    {{ return('(epoch_us(' ~ ts ~ ')::hugeint * 36893488147419103232 + coalesce(cast(' ~ id
              ~ ' as hugeint) + 9223372036854775808, 18446744073709551616))') }}
{% endmacro %}

{% macro spark__lakeqa_time_id_order(ts, id) %}
    {{ return(lakeqa_order_key([ts, id])) }}
{% endmacro %}


{% macro lakeqa_struct(fields) %}
    {{ return(adapter.dispatch('lakeqa_struct', 'lakeqa')(fields)) }}
{% endmacro %}

{% macro duckdb__lakeqa_struct(fields) %}
    {% set parts = [] %}
    {% for name, expression in fields.items() %}{% do parts.append(lakeqa_quote(name) ~ ': ' ~ expression) %}{% endfor %}
    {{ return('{' ~ parts | join(', ') ~ '}') }}
{% endmacro %}

{% macro spark__lakeqa_struct(fields) %}
    {% set parts = [] %}
    {% for name, expression in fields.items() %}{% do parts.append(lakeqa_quote(name) ~ ', ' ~ expression) %}{% endfor %}
    {{ return('named_struct(' ~ parts | join(', ') ~ ')') }}
{% endmacro %}


{% macro lakeqa_seconds(seconds) %}
    {{ return(adapter.dispatch('lakeqa_seconds', 'lakeqa')(seconds)) }}
{% endmacro %}

{% macro duckdb__lakeqa_seconds(seconds) %}
    {{ return('to_seconds(' ~ seconds ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_seconds(seconds) %}
    {{ return('make_dt_interval(0, 0, 0, ' ~ seconds ~ ')') }}
{% endmacro %}


{#
    lakeqa_anti_join() / lakeqa_semi_join() -> the join keywords that keep the left rows without / with a
    match on the right (DuckDB: ANTI JOIN, SEMI JOIN; Spark: LEFT ANTI JOIN, LEFT SEMI JOIN).
#}
{% macro lakeqa_anti_join() %}
    {{ return(adapter.dispatch('lakeqa_anti_join', 'lakeqa')()) }}
{% endmacro %}

{% macro duckdb__lakeqa_anti_join() %}{{ return('anti join') }}{% endmacro %}

{% macro spark__lakeqa_anti_join() %}{{ return('left anti join') }}{% endmacro %}


{% macro lakeqa_semi_join() %}
    {{ return(adapter.dispatch('lakeqa_semi_join', 'lakeqa')()) }}
{% endmacro %}

{% macro duckdb__lakeqa_semi_join() %}{{ return('semi join') }}{% endmacro %}

{% macro spark__lakeqa_semi_join() %}{{ return('left semi join') }}{% endmacro %}


{#
    lakeqa_format_ts(expr, format) -> a timestamp as text, `format` in strftime's %Y %m %d %H %M %S
    (Spark: date_format with the same fields as Java patterns).
#}
{% macro lakeqa_format_ts(expr, format) %}
    {{ return(adapter.dispatch('lakeqa_format_ts', 'lakeqa')(expr, format)) }}
{% endmacro %}

{% macro duckdb__lakeqa_format_ts(expr, format) %}
    {{ return('strftime(' ~ expr ~ ', ' ~ lakeqa_quote(format) ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_format_ts(expr, format) %}
    {% set java = format.replace('%Y', 'yyyy').replace('%m', 'MM').replace('%d', 'dd')
                        .replace('%H', 'HH').replace('%M', 'mm').replace('%S', 'ss') %}
    {{ return('date_format(' ~ expr ~ ', ' ~ lakeqa_quote(java) ~ ')') }}
{% endmacro %}


{#
    lakeqa_seconds_between(start, stop) -> the seconds from one timestamp to another, as a DOUBLE.
#}
{% macro lakeqa_seconds_between(start, stop) %}
    {{ return(adapter.dispatch('lakeqa_seconds_between', 'lakeqa')(start, stop)) }}
{% endmacro %}

{% macro duckdb__lakeqa_seconds_between(start, stop) %}
    {{ return('epoch(' ~ stop ~ ' - ' ~ start ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_seconds_between(start, stop) %}
    {{ return('((unix_micros(' ~ stop ~ ') - unix_micros(' ~ start ~ ')) / 1000000.0D)') }}
{% endmacro %}


{#
    lakeqa_timestamp_series(start, stop, step) -> a set-returning select-list expression: one row per
    timestamp from start to stop inclusive, `step` an interval (DuckDB unnest(generate_series), Spark
    explode(sequence)).
#}
{% macro lakeqa_timestamp_series(start, stop, step) %}
    {{ return(adapter.dispatch('lakeqa_timestamp_series', 'lakeqa')(start, stop, step)) }}
{% endmacro %}

{% macro duckdb__lakeqa_timestamp_series(start, stop, step) %}
    {{ return('unnest(generate_series(' ~ start ~ ', ' ~ stop ~ ', ' ~ step ~ '))') }}
{% endmacro %}

{% macro spark__lakeqa_timestamp_series(start, stop, step) %}
    {{ return('explode(sequence(' ~ start ~ ', ' ~ stop ~ ', ' ~ step ~ '))') }}
{% endmacro %}


{#
    lakeqa_local_time_of_day(ts_utc, timezone) -> the wall-clock time of day of a UTC timestamp in a time zone;
    lakeqa_time_of_day(text) -> the same kind of value from 'HH:MM' or 'HH:MM:SS' text. The two compare with each
    other (DuckDB: TIME values; Spark 4.0 has no TIME type: 'HH:mm:ss' text, which orders the same).
#}
{% macro lakeqa_local_time_of_day(ts_utc, timezone) %}
    {{ return(adapter.dispatch('lakeqa_local_time_of_day', 'lakeqa')(ts_utc, timezone)) }}
{% endmacro %}

{% macro duckdb__lakeqa_local_time_of_day(ts_utc, timezone) %}
    {{ return('cast(timezone(' ~ timezone ~ ", timezone('UTC', " ~ ts_utc ~ ')) as time)') }}
{% endmacro %}

{% macro spark__lakeqa_local_time_of_day(ts_utc, timezone) %}
    {{ return('date_format(from_utc_timestamp(' ~ ts_utc ~ ', ' ~ timezone ~ "), 'HH:mm:ss')") }}
{% endmacro %}


{% macro lakeqa_time_of_day(text) %}
    {{ return(adapter.dispatch('lakeqa_time_of_day', 'lakeqa')(text)) }}
{% endmacro %}

{% macro duckdb__lakeqa_time_of_day(text) %}
    {{ return('cast(' ~ text ~ ' as time)') }}
{% endmacro %}

{% macro spark__lakeqa_time_of_day(text) %}
    {{ return('case when length(' ~ text ~ ') = 5 then ' ~ text ~ " || ':00' else " ~ text ~ ' end') }}
{% endmacro %}


{#
    lakeqa_minutes(n) / lakeqa_hours(n) -> an interval of a whole number of minutes / hours;
    lakeqa_integer_series(start, stop) -> a set-returning select-list expression: the integers start..stop.
#}
{% macro lakeqa_minutes(minutes) %}
    {{ return(adapter.dispatch('lakeqa_minutes', 'lakeqa')(minutes)) }}
{% endmacro %}

{% macro duckdb__lakeqa_minutes(minutes) %}
    {{ return('to_minutes(' ~ minutes ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_minutes(minutes) %}
    {{ return('make_dt_interval(0, 0, ' ~ minutes ~ ', 0)') }}
{% endmacro %}


{% macro lakeqa_hours(hours) %}
    {{ return(adapter.dispatch('lakeqa_hours', 'lakeqa')(hours)) }}
{% endmacro %}

{% macro duckdb__lakeqa_hours(hours) %}
    {{ return('to_hours(' ~ hours ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_hours(hours) %}
    {{ return('make_dt_interval(0, ' ~ hours ~ ', 0, 0)') }}
{% endmacro %}


{% macro lakeqa_integer_series(start, stop) %}
    {{ return(adapter.dispatch('lakeqa_integer_series', 'lakeqa')(start, stop)) }}
{% endmacro %}

{% macro duckdb__lakeqa_integer_series(start, stop) %}
    {{ return('unnest(range(' ~ start ~ ', ' ~ (stop + 1) ~ '))') }}
{% endmacro %}

{% macro spark__lakeqa_integer_series(start, stop) %}
    {{ return('explode(sequence(' ~ start ~ ', ' ~ stop ~ '))') }}
{% endmacro %}


{#
    lakeqa_ordered_list(expr, order_by) -> an aggregate: the group's values of expr as a list, in order_by's
    order; lakeqa_ordered_join(expr, separator, order_by, filter) -> the same joined into one text (of the
    rows where `filter` holds, when given; NULL when there are none).
#}
{% macro lakeqa_ordered_list(expr, order_by) %}
    {{ return(adapter.dispatch('lakeqa_ordered_list', 'lakeqa')(expr, order_by)) }}
{% endmacro %}

{% macro duckdb__lakeqa_ordered_list(expr, order_by) %}
    {{ return('list(' ~ expr ~ ' order by ' ~ order_by ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_ordered_list(expr, order_by) %}
    {{ return('transform(array_sort(collect_list(struct(' ~ order_by ~ ' as k, ' ~ expr ~ ' as v))), x -> x.v)') }}
{% endmacro %}


{% macro lakeqa_ordered_join(expr, separator, order_by, filter=none) %}
    {{ return(adapter.dispatch('lakeqa_ordered_join', 'lakeqa')(expr, separator, order_by, filter)) }}
{% endmacro %}

{% macro duckdb__lakeqa_ordered_join(expr, separator, order_by, filter) %}
    {{ return('string_agg(' ~ expr ~ ', ' ~ lakeqa_quote(separator) ~ ' order by ' ~ order_by ~ ')'
              ~ (' filter (where ' ~ filter ~ ')' if filter else '')) }}
{% endmacro %}

{# no row (all filtered out) gives NULL, as DuckDB's string_agg, not array_join's empty text #}
{% macro spark__lakeqa_ordered_join(expr, separator, order_by, filter) %}
    {% set values = 'array_sort(collect_list(struct(' ~ order_by ~ ' as k, ' ~ expr ~ ' as v))'
                    ~ (' filter (where ' ~ filter ~ ')' if filter else '') ~ ')' %}
    {{ return('case when size(' ~ values ~ ') > 0 then array_join(transform(' ~ values ~ ', x -> x.v), '
              ~ lakeqa_quote(separator) ~ ') end') }}
{% endmacro %}


{#
    lakeqa_array(items) -> a list (DuckDB) / array (Spark) of the SQL expressions in `items`.
#}
{% macro lakeqa_array(items) %}
    {{ return(adapter.dispatch('lakeqa_array', 'lakeqa')(items)) }}
{% endmacro %}

{% macro duckdb__lakeqa_array(items) %}
    {{ return('[' ~ items | join(', ') ~ ']') }}
{% endmacro %}

{% macro spark__lakeqa_array(items) %}
    {{ return('array(' ~ items | join(', ') ~ ')') }}
{% endmacro %}


{#
    lakeqa_isfinite(expr) -> true when expr is a finite number, false for NaN and infinities, NULL for NULL
    (DuckDB's isfinite; Spark has isnan only).
#}
{% macro lakeqa_isfinite(expr) %}
    {{ return(adapter.dispatch('lakeqa_isfinite', 'lakeqa')(expr)) }}
{% endmacro %}

{% macro duckdb__lakeqa_isfinite(expr) %}
    {{ return('isfinite(' ~ expr ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_isfinite(expr) %}
    {{ return('(not isnan(' ~ expr ~ ') and abs(' ~ expr ~ ") < double('inf'))") }}
{% endmacro %}


{#
    lakeqa_sorted_list(expr, filter, distinct) -> an aggregate: the group's values of expr (of the rows where
    `filter` holds, when given; each value once with distinct) as a sorted list (DuckDB list_sort(list()),
    Spark array_sort(collect_list())). A group without such rows gives NULL on DuckDB, an empty list on
    Spark: callers coalesce to lakeqa_array([]).
#}
{% macro lakeqa_sorted_list(expr, filter=none, distinct=false) %}
    {{ return(adapter.dispatch('lakeqa_sorted_list', 'lakeqa')(expr, filter, distinct)) }}
{% endmacro %}

{% macro duckdb__lakeqa_sorted_list(expr, filter, distinct) %}
    {% set values = 'list(' ~ expr ~ ')' ~ (' filter (where ' ~ filter ~ ')' if filter else '') %}
    {{ return('list_sort(' ~ ('list_distinct(' ~ values ~ ')' if distinct else values) ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_sorted_list(expr, filter, distinct) %}
    {% set collect = 'collect_set' if distinct else 'collect_list' %}
    {{ return('array_sort(' ~ collect ~ '(' ~ expr ~ ')' ~ (' filter (where ' ~ filter ~ ')' if filter else '') ~ ')') }}
{% endmacro %}


{#
    lakeqa_starts_with(expr, prefix) -> whether the text expr begins with the literal text `prefix`.
    lakeqa_epoch(ts) -> a timestamp as seconds since 1970-01-01 UTC, a DOUBLE.
    lakeqa_json_get(json_text, path) -> the value at a JSONPath ('$.count') of a JSON text, castable to a
    number (DuckDB json_extract, Spark get_json_object).
#}
{% macro lakeqa_starts_with(expr, prefix) %}
    {{ return(adapter.dispatch('lakeqa_starts_with', 'lakeqa')(expr, prefix)) }}
{% endmacro %}

{% macro duckdb__lakeqa_starts_with(expr, prefix) %}
    {{ return('starts_with(' ~ expr ~ ', ' ~ lakeqa_quote(prefix) ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_starts_with(expr, prefix) %}
    {{ return('startswith(' ~ expr ~ ', ' ~ lakeqa_quote(prefix) ~ ')') }}
{% endmacro %}


{% macro lakeqa_epoch(ts) %}
    {{ return(adapter.dispatch('lakeqa_epoch', 'lakeqa')(ts)) }}
{% endmacro %}

{% macro duckdb__lakeqa_epoch(ts) %}
    {{ return('epoch(' ~ ts ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_epoch(ts) %}
    {{ return('(unix_micros(' ~ ts ~ ') / 1000000.0D)') }}
{% endmacro %}


{% macro lakeqa_json_get(json_text, path) %}
    {{ return(adapter.dispatch('lakeqa_json_get', 'lakeqa')(json_text, path)) }}
{% endmacro %}

{% macro duckdb__lakeqa_json_get(json_text, path) %}
    {{ return('json_extract(' ~ json_text ~ ', ' ~ lakeqa_quote(path) ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_json_get(json_text, path) %}
    {{ return('get_json_object(' ~ json_text ~ ', ' ~ lakeqa_quote(path) ~ ')') }}
{% endmacro %}


{#
    lakeqa_json_text(expr) -> a struct (lakeqa_struct) as JSON text, NULL fields written as null (Spark's
    to_json drops them unless told); lakeqa_json_count_map(key, value) -> an aggregate: the group's
    {key: value} pairs as JSON text, keys in order; lakeqa_json_embed(json_text) -> JSON text to nest in a
    struct given to lakeqa_json_text, as an object of integer counts (DuckDB's json(); Spark parses it
    into a map).
#}
{% macro lakeqa_json_text(expr) %}
    {{ return(adapter.dispatch('lakeqa_json_text', 'lakeqa')(expr)) }}
{% endmacro %}

{% macro duckdb__lakeqa_json_text(expr) %}
    {{ return('cast(to_json(' ~ expr ~ ') as varchar)') }}
{% endmacro %}

{% macro spark__lakeqa_json_text(expr) %}
    {{ return('to_json(' ~ expr ~ ", map('ignoreNullFields', 'false'))") }}
{% endmacro %}


{% macro lakeqa_json_count_map(key, value) %}
    {{ return(adapter.dispatch('lakeqa_json_count_map', 'lakeqa')(key, value)) }}
{% endmacro %}

{% macro duckdb__lakeqa_json_count_map(key, value) %}
    {{ return('cast(to_json(map_from_entries(list((' ~ key ~ ', ' ~ value ~ ') order by ' ~ key ~ '))) as varchar)') }}
{% endmacro %}

{% macro spark__lakeqa_json_count_map(key, value) %}
    {{ return('to_json(map_from_entries(array_sort(collect_list(struct(' ~ key ~ ', ' ~ value ~ ')))))') }}
{% endmacro %}


{% macro lakeqa_json_embed(json_text) %}
    {{ return(adapter.dispatch('lakeqa_json_embed', 'lakeqa')(json_text)) }}
{% endmacro %}

{% macro duckdb__lakeqa_json_embed(json_text) %}
    {{ return('json(' ~ json_text ~ ')') }}
{% endmacro %}

{% macro spark__lakeqa_json_embed(json_text) %}
    {{ return('from_json(' ~ json_text ~ ", 'map<string, bigint>')") }}
{% endmacro %}


{#
    lakeqa_window_median(expr, window_name) -> the median of expr over a named window with a frame, NULLs
    skipped, two middle values interpolated as lo + (hi - lo) x 0.5 (DuckDB's median). Spark allows no frame
    for median: there the frame's values are collected, sorted, and the middle taken.
#}
{% macro lakeqa_window_median(expr, window_name) %}
    {{ return(adapter.dispatch('lakeqa_window_median', 'lakeqa')(expr, window_name)) }}
{% endmacro %}

{% macro duckdb__lakeqa_window_median(expr, window_name) %}
    {{ return('median(' ~ expr ~ ') over ' ~ window_name) }}
{% endmacro %}

{% macro spark__lakeqa_window_median(expr, window_name) %}
    {% set sorted = 'array_sort(collect_list(' ~ expr ~ ') over ' ~ window_name ~ ')' %}
    {% set middle %}
        case
            when size(v) = 0 then null
            when size(v) % 2 = 1 then v[size(v) div 2]
            else v[size(v) div 2 - 1] + (v[size(v) div 2] - v[size(v) div 2 - 1]) * 0.5D
        end
    {% endset %}
    {{ return('element_at(transform(array(' ~ sorted ~ '), v -> ' ~ middle | trim ~ '), 1)') }}
{% endmacro %}
