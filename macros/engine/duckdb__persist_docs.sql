{#
    persist_docs on DuckDB: a model's description and its columns' as DuckDB comments (what analysts see in
    duckdb_tables() and duckdb_columns()), written after each build (dbt_project.yml +persist_docs).
    dbt's persist_docs dispatches here before dbt-duckdb's (the root project first). Why not theirs: dbt's
    default__persist_docs with dbt-duckdb's alter_column_comment sends four queries per model (the table's
    comment; the relation's columns, looked up once in each macro; the columns' comments), and each query
    costs dbt's own work per statement (its events, a result table) on every model of every run. Here: one
    look at the columns and one batch of comments — the same comments (tests/python/test_exports.py
    test_descriptions_are_duckdb_comments).
#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
  {%- set statements = [] -%}
  {%- if for_relation and config.persist_relation_docs() and model.description -%}
    {%- do statements.append(alter_relation_comment(relation, model.description)) -%}
  {%- endif -%}
  {%- if for_columns and config.persist_column_docs() and model.columns -%}
    {%- set existing = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {#- dbt's own filter: the documented columns the relation has (it warns about the others) -#}
    {%- set documented = validate_doc_columns(relation, model.columns, existing) -%}
    {%- for column_name, column in documented.items() -%}
      {%- set name = adapter.quote(column_name) if column['quote'] else column_name -%}
      {%- do statements.append('comment on column ' ~ relation ~ '.' ~ name ~ ' is '
                               ~ duckdb_escape_comment(column['description']) ~ ';') -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if statements -%}
    {%- do run_query(statements | join('\n')) -%}
  {%- endif -%}
{%- endmacro %}
