{# grain: one row per rule test attached to a model in the yml #}
{#
    Where each rule applies, as dbt's graph has it from the models' `data_tests` (the one place a rule is
    attached): the table, the test's arguments (JSON) and the threshold this attachment uses (its own
    argument if given, else the rule's setting). The Great Expectations suites are built from these rows,
    so a rule attached in the yml is checked by its dbt test, in `violations` and by GE alike.
    A table, rebuilt whole by every run: it describes the project, not a day.
#}
{# partition_by none: the marts' Spark partitioning by date (dbt_project.yml) has no date here #}
{{ config(materialized='table', partition_by=none) }}
{%- set attachments = lakeqa_rule_attachments() %}

with

attachments as (

    {% for attachment in attachments %}
    {% set rule = attachment.rule %}
    {% set override = attachment.kwargs.get(rule.get('threshold_argument'))
        if rule.get('threshold_argument') else none %}
    select
        {{ lakeqa_sql_string(rule.rule_id) }} as rule_id,
        {{ lakeqa_sql_string(attachment.test_name) }} as test_name,
        {{ lakeqa_sql_string(attachment.model) }} as table_name,
        {{ lakeqa_sql_string(tojson(attachment.kwargs, sort_keys=true)) }} as arguments,
        cast({{ (override | float) if override is not none
                else (lakeqa_setting_number(rule.threshold_var) if rule.threshold_var else 'null') }} as double) as threshold,
        {{ lakeqa_sql_string(attachment.test_id) }} as test_id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not attachments %}
    select
        cast(null as {{ dbt.type_string() }}) as rule_id, cast(null as {{ dbt.type_string() }}) as test_name, cast(null as {{ dbt.type_string() }}) as table_name,
        cast(null as {{ dbt.type_string() }}) as arguments, cast(null as double) as threshold, cast(null as {{ dbt.type_string() }}) as test_id
    where false
    {% endif %}

)

select * from attachments
order by table_name, rule_id, test_id
