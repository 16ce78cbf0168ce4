{#
    lakeqa_latest_lake_day() -> 'YYYY-MM-DD', the newest date partition of any dataset in the lake.
    Used when var `day` is LATEST (the default), so that `dbt build --select tag:daily` on a fresh demo
    lake builds its newest day.
#}
{% macro lakeqa_latest_lake_day() %}
    {% if not execute %}
        {{ return('1970-01-01') }}
    {% endif %}
    {% set root = lakeqa_lake_root() %}
    {% set latest_sql %}
        select cast(max({{ lakeqa_path_date('file') }}) as {{ dbt.type_string() }})
        from {{ lakeqa_glob_files([lakeqa_lake_glob('*')]) }}
    {% endset %}
    {% set latest = run_query(latest_sql).columns[0].values()[0] %}
    {% if not latest %}
        {{ exceptions.raise_compiler_error("lakeqa: the lake at " ~ root ~ " (LAKE_ROOT) has no date partitions; "
            ~ "import data with `lakeqa import` or make a demo lake with `lakeqa generate`") }}
    {% endif %}
    {{ return(latest) }}
{% endmacro %}
