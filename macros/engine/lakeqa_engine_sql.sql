{#
    SQL that DuckDB and Spark spell differently, behind adapter.dispatch (dbt-utils style: `duckdb__` is the
    embedded default, `spark__` the dbt-spark target, README "Running on Spark"). A model writes the macro;
    each engine gets its own text, and DuckDB's is exactly what the model held before, so its plans and
    speed do not change.

      lakeqa_arg_min(value, order_by)  the value of the row with the smallest order_by (a column, or a list
      lakeqa_arg_max(value, order_by)  of columns compared left to right); a NULL value is returned as it is
                                       (DuckDB arg_min_null / Spark min_by), rows with a NULL order_by skipped
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
