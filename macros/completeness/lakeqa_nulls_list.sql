{#
    The missing values of a dataset's checked columns, for coverage's C6_NULL_SHARE.

    lakeqa_nulls_list(counts) -> a list of {name, n} structs from a dict column name -> SQL count
    lakeqa_worst_nulls(list_expr) -> the struct with the largest n (the first on a tie), or {NULL, 0} for a
        NULL list (a dataset without rows in the period)

    Example (coverage):
      {{ lakeqa_nulls_list({'price': 'sum(n_null_price)', 'qty': 'sum(n_null_qty)'}) }} as nulls
#}
{% macro lakeqa_nulls_list(counts) %}
    {% set items = [] %}
    {% for name, count in counts.items() %}
        {% do items.append(lakeqa_struct({'name': lakeqa_quote(name), 'n': 'cast(' ~ count ~ ' as bigint)'})) %}
    {% endfor %}
    {{ return(lakeqa_array(items)) }}
{% endmacro %}


{% macro lakeqa_worst_nulls(list_expr) %}
    {{ return(adapter.dispatch('lakeqa_worst_nulls', 'lakeqa')(list_expr)) }}
{% endmacro %}

{% macro duckdb__lakeqa_worst_nulls(list_expr) %}
    {{ return("list_reduce(coalesce(" ~ list_expr ~ ", [{'name': null, 'n': 0}]), "
              ~ "(worst, candidate) -> case when candidate.n > worst.n then candidate else worst end)") }}
{% endmacro %}

{% macro spark__lakeqa_worst_nulls(list_expr) %}
    {{ return("coalesce(aggregate(slice(" ~ list_expr ~ ", 2, size(" ~ list_expr ~ ")), element_at(" ~ list_expr
              ~ ", 1), (worst, candidate) -> case when candidate.n > worst.n then candidate else worst end), "
              ~ "named_struct('name', cast(null as string), 'n', cast(0 as bigint)))") }}
{% endmacro %}
