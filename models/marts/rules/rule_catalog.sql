{# grain: one row per rule #}
{#
    The rule catalog (macros/rules/_lakeqa_rule_catalog.sql, where each rule is defined) as a table for
    analysts, dbt docs and the Great Expectations suites: the threshold as this build resolved it from its
    setting, and the tables the rule is attached to in the yml (read from dbt's graph).
    A table, rebuilt whole by every run: it describes the project, not a day.
#}
{# partition_by none: the marts' Spark partitioning by date (dbt_project.yml) has no date here #}
{{ config(materialized='table', partition_by=none) }}
{%- set catalog = lakeqa_rule_catalog() %}
{%- set attachments = lakeqa_rule_attachments() %}

with

rules as (

    {% for test_name, rule in catalog.items() | sort %}
    {% set tables = attachments | selectattr('test_name', 'equalto', test_name)
        | map(attribute='model') | unique | sort %}
    select
        {{ lakeqa_sql_string(rule.rule_id) }} as rule_id,
        {{ lakeqa_sql_string(test_name) }} as test_name,
        -- `name` is a keyword, and the catalog's column name
        {{ lakeqa_sql_string(rule.name) }} as name,  -- noqa: RF04
        {{ lakeqa_sql_string(rule.severity) }} as severity,
        {{ lakeqa_sql_string(rule.threshold_var) }} as threshold_var,
        cast({{ lakeqa_setting_number(rule.threshold_var) if rule.threshold_var else 'null' }} as double) as threshold,
        {{ lakeqa_sql_string(tables | join(' ')) }} as applies_to,
        {{ lakeqa_sql_string(rule.description) }} as description
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from rules
order by rule_id
