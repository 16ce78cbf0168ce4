{#
    lakeqa_unique_combination: a model's grain (primary key) test. The columns of `combination_of_columns`
    together identify a row: no combination appears twice, and none of its columns is NULL (a NULL key is
    no key; GROUP BY would quietly put all NULLs in one group). Like dbt-utils' unique_combination_of_columns,
    which cannot be installed here (no dbt hub), plus the not-null half of a primary key.

    Arguments:
      combination_of_columns  list of column names, at least one (quoted for the adapter)

    Failing rows: one per offending combination, with its columns and `n_rows`, the number of rows holding it.

    Example (the model-level data_tests of bars_1s):
      data_tests:
        - lakeqa_unique_combination:
            arguments:
              combination_of_columns: [symbol, ts]
#}
{% test lakeqa_unique_combination(model, combination_of_columns) %}
    {% if combination_of_columns is string or combination_of_columns is not iterable
          or combination_of_columns | length == 0 %}
        {{ exceptions.raise_compiler_error("lakeqa_unique_combination on " ~ model
            ~ ": combination_of_columns must be a non-empty list of column names, got "
            ~ (combination_of_columns | string | tojson)) }}
    {% endif %}
    {{ return(adapter.dispatch('test_lakeqa_unique_combination', 'lakeqa')(model, combination_of_columns)) }}
{% endtest %}

{% macro default__test_lakeqa_unique_combination(model, combination_of_columns) %}
{%- set columns = [] -%}
{%- for column in combination_of_columns -%}
    {%- do columns.append(adapter.quote(column)) -%}
{%- endfor %}
with validation_errors as (

    select
        {{ columns | join(',\n        ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
        {%- for column in columns %}
        or {{ column }} is null
        {%- endfor %}

)

select * from validation_errors
{% endmacro %}
