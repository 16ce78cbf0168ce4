{#
    Incremental strategy `window_replace`: the run's window (lakeqa_window) replaces exactly those rows of the
    target whose window column falls inside it, and nothing else. Delete and insert run inside the
    incremental materialization's transaction, so a failed run leaves the old rows in place.

    Config:
      window_column   the model's timestamp column that places a row in the window (default `ts`)
      window_by_mode  true for a model whose rows carry a `mode` column (fusion): a daily run replaces
                      daily rows only, an hourly run hourly rows only

    Example (dbt_project.yml):
      marts:
        +materialized: incremental
        +incremental_strategy: window_replace
#}
{% macro get_incremental_window_replace_sql(arg_dict) %}
    {% set target = arg_dict['target_relation'] %}
    {% set source = arg_dict['temp_relation'] %}
    {% set column_names = [] %}
    {% for column in arg_dict['dest_columns'] %}
        {% do column_names.append(adapter.quote(column.name)) %}
    {% endfor %}
    {% set window_column = adapter.quote(config.get('window_column', 'ts')) %}
    {% set window = lakeqa_window() %}

    delete from {{ target }}
    where {{ window_column }} >= {{ window.start_ts }}
      and {{ window_column }} < {{ window.end_ts }}
      {% if config.get('window_by_mode', false) %}and mode = '{{ window.mode }}'{% endif %};

    insert into {{ target }} ({{ column_names | join(', ') }})
    select {{ column_names | join(', ') }}
    from {{ source }}
    order by {{ window_column }};
{% endmacro %}
