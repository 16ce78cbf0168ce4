{#
    Helpers shared by the rule macros (one file per rule beside this one).

    lakeqa_in_window(column) -> SQL predicate keeping rows of the run's window (lakeqa_window()).
    lakeqa_num(expr)         -> SQL expression printing a number for a person (10 significant digits; NaN, NULL).
    lakeqa_rule_test_severity(test_name) -> 'warn', or 'error' for a critical rule (lakeqa_rule_catalog)
        when var rules_critical_as_error is true.
#}
{% macro lakeqa_in_window(column='ts') %}
    {%- set window = lakeqa_window() -%}
    {{ adapter.quote(column) }} >= {{ window.start_ts }} and {{ adapter.quote(column) }} < {{ window.end_ts }}
{%- endmacro %}


{% macro lakeqa_num(expr) -%}
    {{ adapter.dispatch('lakeqa_num', 'lakeqa')(expr) }}
{%- endmacro %}

{% macro duckdb__lakeqa_num(expr) -%}
    coalesce(printf('%.10g', {{ expr }}), 'NULL')
{%- endmacro %}

{# Java's %g keeps trailing zeros and writes NaN where C writes nan: the same number, spelled apart #}
{% macro spark__lakeqa_num(expr) -%}
    coalesce(format_string('%.10g', cast({{ expr }} as double)), 'NULL')
{%- endmacro %}


{% macro lakeqa_rule_test_severity(test_name) %}
    {% if var('rules_critical_as_error', false) and lakeqa_rule(test_name).severity == 'critical' %}
        {{ return('error') }}
    {% endif %}
    {{ return('warn') }}
{% endmacro %}


{#
    lakeqa_rule_failures_select(test_name, relation, where, detail, sample_columns, ts='ts', ts_end='null')
    The shape every rule's failing rows share: symbol, ts, ts_end, rule, detail, row_sample (JSON of the
    offending values; NaN is written as NaN, not dropped).
#}
{% macro lakeqa_rule_failures_select(test_name, relation, where, detail, sample_columns, ts='ts', ts_end='null') %}
    {%- set sample_fields = {} -%}
    {%- for column in sample_columns -%}
        {%- do sample_fields.update({column: adapter.quote(column)}) -%}
    {%- endfor -%}
    select
        symbol,
        {{ ts }} as ts,
        cast({{ ts_end }} as timestamp) as ts_end,
        '{{ lakeqa_rule(test_name).rule_id }}' as rule,
        {{ detail }} as detail,
        cast(to_json({{ lakeqa_struct(sample_fields) }}) as {{ dbt.type_string() }}) as row_sample
    from {{ relation }}
    where {{ lakeqa_in_window('ts') }}
      and ({{ where }})
{% endmacro %}


{#
    lakeqa_sql_string(value) -> a SQL string literal of `value` (lakeqa_quote), or null for none.
    For text from the catalog and the yml that is written into generated SQL.
#}
{% macro lakeqa_sql_string(value) -%}
    {%- if value is none -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        {{ lakeqa_quote(value) }}
    {%- endif -%}
{%- endmacro %}
