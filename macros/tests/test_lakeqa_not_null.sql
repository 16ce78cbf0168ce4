{#
    lakeqa_not_null: the columns of a model that must never be NULL, checked in one scan. Like dbt's
    not_null on each column, but one test (one dbt node, one query) per model: the daily build runs a
    hundred nodes, and dbt's own work per node (compiling, its events, a query, its result) cost more than
    the scans of these columns (measured: issue #15, benchmarks/HISTORY.md).

    Arguments:
      columns  list of column names, at least one (quoted for the adapter)

    Failing rows: one per column that holds NULLs, with `column_name` and `null_rows`, the number of its
    NULL values; the test's failures count them (fail_calc), so `dbt build` says how many values are missing.

    Example (the model-level data_tests of violations):
      data_tests:
        - lakeqa_not_null:
            arguments:
              columns: [rule, severity, source_table, symbol, ts]
#}
{% test lakeqa_not_null(model, columns) %}
    {% if columns is string or columns is not iterable or columns | length == 0 %}
        {{ exceptions.raise_compiler_error("lakeqa_not_null on " ~ model
            ~ ": columns must be a non-empty list of column names, got " ~ (columns | string | tojson)) }}
    {% endif %}
    {{ config(fail_calc='coalesce(sum(null_rows), 0)') }}
    {{ return(adapter.dispatch('test_lakeqa_not_null', 'lakeqa')(model, columns)) }}
{% endtest %}

{% macro default__test_lakeqa_not_null(model, columns) %}
with null_counts as (

    select
        {%- for column in columns %}
        sum(case when {{ adapter.quote(column) }} is null then 1 else 0 end) as null_rows_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

validation_errors as (

    {%- for column in columns %}
    select
        {{ lakeqa_quote(column) }} as column_name,
        null_rows_{{ loop.index }} as null_rows
    from null_counts
    where null_rows_{{ loop.index }} > 0
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select * from validation_errors
{% endmacro %}
