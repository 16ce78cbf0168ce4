{# grain: one row per rule violation (a gap is one row with its start and end) #}
{#
    Generated from dbt's graph: one select per rule test attached in the models' yml (`data_tests`), each
    running that test's own SQL (its dispatched `test_<rule>` macro, with the test's arguments), so a
    violation here and a failing test row are one and the same thing, and attaching a rule to a table in
    the yml is all it takes to add its violations here. Severity comes from lakeqa_rule_catalog().

    dbt orders models from the refs it sees while parsing, before the graph is known: the tables rules may
    be attached to are named below, and a rule attached to any other model stops the compile with a
    message saying to add it.
#}
-- depends_on: {{ ref('bars_1s') }}
-- depends_on: {{ ref('bars_1m') }}
-- depends_on: {{ ref('klines_1m') }}
-- depends_on: {{ ref('compare_our_vs_kline_1m') }}
-- depends_on: {{ ref('funding_oi_hourly') }}
-- depends_on: {{ ref('macro_minute') }}
-- depends_on: {{ ref('int_continuity_intervals') }}
-- depends_on: {{ ref('completeness_checks') }}
-- depends_on: {{ ref('symbol_settings') }}
{%- set attachments = lakeqa_rule_attachments() %}

with

{% if execute and attachments | length == 0 %}
    {{ exceptions.raise_compiler_error("violations: no rule test is attached to any model (data_tests in the models' yml)") }}
{% endif %}

{% for attachment in attachments %}
{% if attachment.model_id not in model.depends_on.nodes %}
    {{ exceptions.raise_compiler_error("violations: rule " ~ attachment.rule.rule_id ~ " is attached to model "
        ~ attachment.model ~ ", which violations.sql does not depend on; add the line -- depends_on: {{ ref('"
        ~ attachment.model ~ "') }} at its top") }}
{% endif %}
{% set relation = api.Relation.create(
    database=graph.nodes[attachment.model_id].database,
    schema=graph.nodes[attachment.model_id].schema,
    identifier=graph.nodes[attachment.model_id].alias) %}
{% set failing_rows = adapter.dispatch('test_' ~ attachment.test_name, 'lakeqa')(relation, **attachment.kwargs) %}
failures_{{ loop.index }} as (

    -- {{ attachment.rule.rule_id }} on {{ attachment.model }}
    select
        symbol,
        ts,
        ts_end,
        rule,
        '{{ attachment.rule.severity }}' as severity,
        '{{ attachment.model }}' as source_table,
        detail,
        row_sample
    from ({{ failing_rows }})

),

{% endfor %}

all_violations as (

    {% for attachment in attachments %}
    select * from failures_{{ loop.index }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not attachments %}
    select
        cast(null as {{ dbt.type_string() }}) as symbol, cast(null as timestamp) as ts, cast(null as timestamp) as ts_end,
        cast(null as {{ dbt.type_string() }}) as rule, cast(null as {{ dbt.type_string() }}) as severity, cast(null as {{ dbt.type_string() }}) as source_table,
        cast(null as {{ dbt.type_string() }}) as detail, cast(null as {{ dbt.type_string() }}) as row_sample
    where false
    {% endif %}

),

final as (

    select
        symbol,
        ts,
        ts_end,
        cast(ts as date) as date,
        rule,
        severity,
        source_table,
        detail,
        row_sample
    from all_violations

)

select * from final
order by symbol, ts, source_table, rule
