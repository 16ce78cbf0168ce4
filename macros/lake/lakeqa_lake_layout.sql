{#
    The lake's folder layout, from env var LAKE_LAYOUT (like LAKE_ROOT, a property of the lake; the Python
    side is lakeqa.lake.LAYOUTS, which `lakeqa run`, compact and the manifest use):

      hive        <dataset>/symbol=S/date=YYYY-MM-DD/*.parquet   the default; what lakeqa import and generate write
      symbol_ymd  <dataset>/S/year=YYYY/month=MM/day=DD/*.parquet a capture lake's (seed 002), read in place

    Every macro that lists or reads lake files takes its globs and path parsing from here:
      lakeqa_lake_glob(dataset, day)  the files of a dataset ('*' for all) on a day ('*' for every day)
      lakeqa_path_dataset(sql), lakeqa_path_symbol(sql), lakeqa_path_date(sql)
                                      SQL expressions taking a file path apart (dataset, symbol, DATE)
      lakeqa_read_lake_files(list)    a FROM-able read of listed files, with the path's symbol and date
#}
{% macro lakeqa_lake_layout() %}
    {% set layout = env_var('LAKE_LAYOUT', 'hive') | trim or 'hive' %}
    {% if layout not in ('hive', 'symbol_ymd') %}
        {{ exceptions.raise_compiler_error("lakeqa: LAKE_LAYOUT '" ~ layout ~ "' is not a lake layout; lakeqa reads "
            ~ "hive (<dataset>/symbol=S/date=YYYY-MM-DD/) and symbol_ymd (<dataset>/S/year=YYYY/month=MM/day=DD/)") }}
    {% endif %}
    {{ return(layout) }}
{% endmacro %}


{# The glob of a dataset's Parquet files on a day: dataset and day are '*' or checked names (lakeqa_window). #}
{% macro lakeqa_lake_glob(dataset, day='*') %}
    {% set root = lakeqa_lake_root() %}
    {% if lakeqa_lake_layout() == 'hive' %}
        {{ return(root ~ '/' ~ dataset ~ '/symbol=*/date=' ~ day ~ '/*.parquet') }}
    {% endif %}
    {% set ymd = ['*', '*', '*'] if day == '*' else day.split('-') %}
    {{ return(root ~ '/' ~ dataset ~ '/*/year=' ~ ymd[0] ~ '/month=' ~ ymd[1] ~ '/day=' ~ ymd[2] ~ '/*.parquet') }}
{% endmacro %}


{# The path patterns, each with the folders of one file after the lake root. #}
{% macro lakeqa_path_pattern() %}
    {% if lakeqa_lake_layout() == 'hive' %}
        {{ return('/([^/]+)/symbol=([^/]+)/date=([0-9]{4})-([0-9]{2})-([0-9]{2})/[^/]+$') }}
    {% endif %}
    {{ return('/([^/]+)/([^/]+)/year=([0-9]{4})/month=([0-9]{2})/day=([0-9]{2})/[^/]+$') }}
{% endmacro %}


{% macro lakeqa_path_dataset(path_sql) %}
    {{ return("regexp_extract(" ~ path_sql ~ ", " ~ lakeqa_quote(lakeqa_path_pattern()) ~ ", 1)") }}
{% endmacro %}


{% macro lakeqa_path_symbol(path_sql) %}
    {{ return("regexp_extract(" ~ path_sql ~ ", " ~ lakeqa_quote(lakeqa_path_pattern()) ~ ", 2)") }}
{% endmacro %}


{% macro lakeqa_path_date(path_sql) %}
    {% set parts = [] %}
    {% for group in (3, 4, 5) %}
        {% do parts.append("regexp_extract(" ~ path_sql ~ ", " ~ lakeqa_quote(lakeqa_path_pattern()) ~ ", " ~ group ~ ")") %}
    {% endfor %}
    {{ return("cast(" ~ parts | join(" || '-' || ") ~ " as date)") }}
{% endmacro %}


{#
    lakeqa_read_lake_files(file_list_sql) -> read_parquet over the listed files (a SQL list), each row with the
    `symbol` and `date` of its file's partition. In the hive layout those are DuckDB's hive columns (constant
    per file, free); in another layout they are taken from each row's file name, since DuckDB's hive columns
    there would be year, month and day.
#}
{% macro lakeqa_read_lake_files(file_list_sql) %}
    {% if lakeqa_lake_layout() == 'hive' %}
        {{ return("read_parquet(" ~ file_list_sql ~ ", hive_partitioning = true, union_by_name = true, "
                  ~ "hive_types = {'symbol': 'VARCHAR', 'date': 'DATE'})") }}
    {% endif %}
    {{ return("(select * exclude (filename), " ~ lakeqa_path_symbol('filename') ~ " as symbol, "
              ~ lakeqa_path_date('filename') ~ " as date from read_parquet(" ~ file_list_sql
              ~ ", hive_partitioning = false, union_by_name = true, filename = true))") }}
{% endmacro %}
