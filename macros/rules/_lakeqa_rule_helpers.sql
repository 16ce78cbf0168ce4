{#
    Helpers shared by the rule macros (one file per rule beside this one).

    lakeqa_in_window(column) -> SQL predicate keeping rows of the run's window (lakeqa_window()).
    lakeqa_num(expr)         -> SQL expression printing a number for a person (10 significant digits; NaN, NULL).
    lakeqa_rule_test_severity(rule_id) -> 'warn', or 'error' for a critical rule when var
        rules_critical_as_error is true. Test severity must be known when dbt parses, before seeds are
        loaded, so the critical rules are listed here; tests/python/test_rules_catalog.py proves this list
        equals seeds/rule_catalog.csv, the catalog that drives `violations` and the GE suites.
#}
{% macro lakeqa_in_window(column='ts') %}
    {%- set window = lakeqa_window() -%}
    {{ adapter.quote(column) }} >= {{ window.start_ts }} and {{ adapter.quote(column) }} < {{ window.end_ts }}
{%- endmacro %}


{% macro lakeqa_num(expr) -%}
    coalesce(printf('%.10g', {{ expr }}), 'NULL')
{%- endmacro %}


{% macro lakeqa_critical_rules() %}
    {{ return(['R1_OHLC_ORDER', 'R2_POSITIVE_PRICE', 'R4_NO_NAN', 'R5_CONTINUITY']) }}
{% endmacro %}


{% macro lakeqa_rule_test_severity(rule_id) %}
    {% if var('rules_critical_as_error', false) and rule_id in lakeqa_critical_rules() %}
        {{ return('error') }}
    {% endif %}
    {{ return('warn') }}
{% endmacro %}


{#
    lakeqa_rule_failures_select(rule_id, relation, where, detail, sample_columns, ts='ts', ts_end='null')
    The shape every rule's failing rows share: symbol, ts, ts_end, rule, detail, row_sample (JSON of the
    offending values; NaN is written as NaN, not dropped).
#}
{% macro lakeqa_rule_failures_select(rule_id, relation, where, detail, sample_columns, ts='ts', ts_end='null') %}
    {%- set sample_fields = [] -%}
    {%- for column in sample_columns -%}
        {%- do sample_fields.append("'" ~ column ~ "': " ~ adapter.quote(column)) -%}
    {%- endfor -%}
    select
        symbol,
        {{ ts }} as ts,
        cast({{ ts_end }} as timestamp) as ts_end,
        '{{ rule_id }}' as rule,
        {{ detail }} as detail,
        cast(to_json({ {{ sample_fields | join(', ') }} }) as varchar) as row_sample
    from {{ relation }}
    where {{ lakeqa_in_window('ts') }}
      and ({{ where }})
{% endmacro %}
