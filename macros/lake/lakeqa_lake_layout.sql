{#
    The lake's folder layout, from env var LAKE_LAYOUT (like LAKE_ROOT, a property of the lake; the Python
    side is lakeqa.lake.LAYOUTS, which `lakeqa run`, compact and the manifest use):

      hive        <dataset>/symbol=S/date=YYYY-MM-DD/*.parquet   the default; what lakeqa import and generate write
      symbol_ymd  <dataset>/S/year=YYYY/month=MM/day=DD/*.parquet a capture lake's (seed 002), read in place

    Every macro that lists or reads lake files takes its globs and path parsing from here:
      lakeqa_lake_glob(dataset, day)  the files of a dataset ('*' for all) on a day ('*' for every day)
      lakeqa_path_dataset(sql), lakeqa_path_symbol(sql), lakeqa_path_date(sql)
                                      SQL expressions taking a file path apart (dataset, symbol, DATE)
      lakeqa_glob_files(globs)        a FROM-able relation of the files any of the globs matches (`file`)
      lakeqa_read_lake_files(files, columns)
                                      a FROM-able read of listed files, with the path's symbol and date
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
    lakeqa_glob_files(globs) -> a FROM-able relation with one column `file`: the paths any of the list of
    globs matches (`*` within one folder). A caller passes all its globs (a window's days) in one call.
    DuckDB: its glob() table function over the list. Spark has no such function, and a path glob matching
    nothing is an error there, so the files under the lake root are listed once per call (binaryFile,
    recursive, without reading any content), filtered by the globs as one regular expression, and returned
    as literal rows: Spark views cannot refer to the temporary view the listing is.
#}
{% macro lakeqa_glob_files(globs) %}
    {{ return(adapter.dispatch('lakeqa_glob_files', 'lakeqa')(globs)) }}
{% endmacro %}

{% macro duckdb__lakeqa_glob_files(globs) %}
    {{ return("glob(" ~ lakeqa_file_list_sql(globs) ~ ")") }}
{% endmacro %}

{% macro spark__lakeqa_glob_files(globs) %}
    {% if not execute %}
        {{ return("(select cast(null as string) as file where false)") }}
    {% endif %}
    {% set root = lakeqa_lake_root() %}
    {% do run_query("create or replace temporary view lakeqa_lake_listing using binaryFile options (path "
                    ~ lakeqa_quote(root) ~ ", recursiveFileLookup 'true', pathGlobFilter '*.parquet')") %}
    {# each glob as a regular expression without backslashes (Spark's literals would eat them): each
       character that is not plain goes in a bracket; a relative root matches below any folder, since
       Spark lists absolute paths #}
    {% set alternatives = [] %}
    {% for glob in globs %}
        {% set pattern = [] %}
        {% for char in glob %}
            {% if char == '*' %}{% do pattern.append('[^/]*') %}
            {% elif char in ']\\^' %}
                {{ exceptions.raise_compiler_error("lakeqa: on Spark a lake path cannot hold " ~ char ~ ": " ~ glob) }}
            {% elif char.isalnum() or char in '/_=-:' %}{% do pattern.append(char) %}
            {% else %}{% do pattern.append('[' ~ char ~ ']') %}
            {% endif %}
        {% endfor %}
        {% do alternatives.append(pattern | join('')) %}
    {% endfor %}
    {% set absolute = root.startswith('/') or '://' in root %}
    {% set regex = '^(file:)?' ~ ('' if absolute else '.*/') ~ '(' ~ alternatives | join('|') ~ ')$' %}
    {% set listing_sql %}
        select regexp_replace(path, '^file:', '') as file
        from lakeqa_lake_listing
        where path rlike {{ lakeqa_quote(regex) }}
        order by file
    {% endset %}
    {% set files = run_query(listing_sql).columns[0].values() %}
    {% if files | length == 0 %}
        {{ return("(select cast(null as string) as file where false)") }}
    {% endif %}
    {% set rows = [] %}
    {% for file in files %}{% do rows.append('(' ~ lakeqa_quote(file) ~ ')') %}{% endfor %}
    {{ return("(select * from values " ~ rows | join(', ') ~ " as listed(file))") }}
{% endmacro %}


{#
    lakeqa_read_lake_files(files, columns) -> a FROM-able read of the listed files (paths) with the contract's
    `columns` (name -> kind) and the `symbol` and `date` of each file's partition.
    DuckDB: read_parquet over the list. In the hive layout symbol and date are DuckDB's hive columns
    (constant per file, free); in another layout they are taken from each row's file name, since DuckDB's
    hive columns there would be year, month and day.
    Spark: one select of the contract's columns per file (its symbol and date as literals, parsed here from
    the path), under UNION ALL: a Spark read of many paths at once would take one file's schema for all.
#}
{% macro lakeqa_read_lake_files(files, columns) %}
    {{ return(adapter.dispatch('lakeqa_read_lake_files', 'lakeqa')(files, columns)) }}
{% endmacro %}

{% macro duckdb__lakeqa_read_lake_files(files, columns) %}
    {% set file_list_sql = lakeqa_file_list_sql(files) %}
    {% if lakeqa_lake_layout() == 'hive' %}
        {{ return("read_parquet(" ~ file_list_sql ~ ", hive_partitioning = true, union_by_name = true, "
                  ~ "hive_types = {'symbol': 'VARCHAR', 'date': 'DATE'})") }}
    {% endif %}
    {{ return("(select * exclude (filename), " ~ lakeqa_path_symbol('filename') ~ " as symbol, "
              ~ lakeqa_path_date('filename') ~ " as date from read_parquet(" ~ file_list_sql
              ~ ", hive_partitioning = false, union_by_name = true, filename = true))") }}
{% endmacro %}

{% macro spark__lakeqa_read_lake_files(files, columns) %}
    {% set names = [] %}
    {% for name in columns %}{% do names.append(adapter.quote(name)) %}{% endfor %}
    {% set selects = [] %}
    {% for file in files %}
        {% set parts = modules.re.search(lakeqa_path_pattern(), file) %}
        {% do selects.append("select " ~ names | join(', ') ~ ", " ~ lakeqa_quote(parts.group(2)) ~ " as symbol, "
                             ~ "date " ~ lakeqa_quote(parts.group(3) ~ '-' ~ parts.group(4) ~ '-' ~ parts.group(5))
                             ~ " as date from parquet.`" ~ file.replace('`', '``') ~ "`") %}
    {% endfor %}
    {{ return("(" ~ selects | join(' union all ') ~ ")") }}
{% endmacro %}
