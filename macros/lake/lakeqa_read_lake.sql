{#
    The lake is read through these macros only: the root comes from env var LAKE_ROOT (default `lake`,
    relative to where dbt runs) and is quoted like every other user value before it reaches SQL.

    lakeqa_read_lake(dataset_relation, days, files=none) -> a FROM-able SQL expression over exactly the files of the
    given date partitions, e.g. read_parquet(['<root>/trades/symbol=BTCUSDT/date=2024-08-09/x.parquet', ...]),
    in the lake's layout (lakeqa_lake_layout: LAKE_LAYOUT), with the columns `symbol` and `date` of the path.

      dataset_relation  the source() of the dataset (its identifier names the lake folder: trades, quotes, ...)
      days              list of 'YYYY-MM-DD' partitions to read (checked strings, see lakeqa_window)
      files             optional: the partitions' files as lakeqa_lake_files listed them, for a caller that
                        listed them already (staging, for its uniqueness proof), so the lake is globbed once

    Before anything is read, every file's Parquet schema (metadata only, cheap) is checked against the
    contract in lakeqa_lake_contract(): a missing or retyped column stops the run with the file and column
    named; an extra column is logged as a warning. DuckDB's read_parquet over a glob would otherwise take the
    schema of the first file and silently turn a later file's string `price` into VARCHAR for everyone.

    A dataset with no files for the window (a lake without quotes, say) yields an empty relation with the
    contract's columns, and one log line says so: downstream columns come out NULL.

    Example (in a staging model, the only place source() appears):
      select * from {{ lakeqa_read_lake(source('lake', 'trades'), lakeqa_window().days) }}
#}
{% macro lakeqa_read_lake(dataset_relation, days, files=none) %}
    {% if not execute %}
        {# parsing: source() is not resolved yet and the lake is not read #}
        {{ return('(select 1)') }}
    {% endif %}
    {% set dataset = dataset_relation.identifier %}
    {% if dataset.startswith('__dbt__cte__') %}
        {# a dbt unit test: source() is the test's given rows, not the lake #}
        {{ return(dataset_relation) }}
    {% endif %}
    {% set contract = lakeqa_lake_contract() %}
    {% if dataset not in contract %}
        {{ exceptions.raise_compiler_error("lakeqa_read_lake: no contract for lake dataset '" ~ dataset ~ "'") }}
    {% endif %}
    {% set columns = contract[dataset] %}

    {% set files = lakeqa_lake_files(dataset_relation, days) if files is none else files %}
    {% if files | length == 0 and dataset in lakeqa_context_datasets() %}
        {{ return(lakeqa_empty_dataset(columns)) }}
    {% elif files | length == 0 %}
        {{ log("lakeqa: no '" ~ dataset ~ "' files under " ~ lakeqa_lake_root() ~ " for " ~ days | join(', ')
               ~ "; its columns come out NULL", info=True) }}
        {{ return(lakeqa_empty_dataset(columns)) }}
    {% endif %}

    {% do lakeqa_check_lake_schema(dataset, columns, files) %}

    {{ return(lakeqa_read_lake_files(files, columns)) }}
{% endmacro %}


{#
    lakeqa_lake_files(dataset_relation, days) -> the sorted paths of the dataset's Parquet files in the given
    date partitions (every symbol), without the files `lakeqa run` quarantined (lakeqa_quarantined_files);
    none when parsing and in a dbt unit test (no lake is read there).
#}
{% macro lakeqa_lake_files(dataset_relation, days) %}
    {% if not execute or dataset_relation.identifier.startswith('__dbt__cte__') %}
        {{ return(none) }}
    {% endif %}
    {% set globs = [] %}
    {% for day in days %}{% do globs.append(lakeqa_lake_glob(dataset_relation.identifier, day)) %}{% endfor %}
    {% set kept_out = lakeqa_quarantined_files() | map(attribute='file') | list %}
    {% set files = [] %}
    {% for file in run_query("select file from " ~ lakeqa_glob_files(globs) ~ " order by file").columns[0].values() %}
        {% if file not in kept_out %}{% do files.append(file) %}{% endif %}
    {% endfor %}
    {{ return(files) }}
{% endmacro %}


{# The lake's root folder, from LAKE_ROOT, without a trailing slash. #}
{% macro lakeqa_lake_root() %}
    {{ return(env_var('LAKE_ROOT', 'lake').rstrip('/')) }}
{% endmacro %}


{# A SQL list of file paths, each a quoted literal (lakeqa_quote): what read_parquet and parquet_metadata take. #}
{% macro lakeqa_file_list_sql(files) %}
    {% set quoted = [] %}
    {% for f in files %}{% do quoted.append(lakeqa_quote(f)) %}{% endfor %}
    {{ return('[' ~ quoted | join(', ') ~ ']') }}
{% endmacro %}


{#
    A SQL string literal that no user value can end early: DuckDB doubles single quotes; Spark's literals
    take backslash escapes (a doubled quote there would be two literals side by side, and a trailing
    backslash would escape the closing quote), so backslashes and quotes are escaped with a backslash.
#}
{% macro lakeqa_quote(value) %}
    {{ return(adapter.dispatch('lakeqa_quote', 'lakeqa')(value | string)) }}
{% endmacro %}

{% macro duckdb__lakeqa_quote(text) %}
    {{ return("'" ~ text.replace("'", "''") ~ "'") }}
{% endmacro %}

{% macro spark__lakeqa_quote(text) %}
    {{ return("'" ~ text.replace("\\", "\\\\").replace("'", "\\'") ~ "'") }}
{% endmacro %}


{#
    The lake contract of DESIGN.md, column -> kind. Kinds: integer, number (integer or floating point,
    read as DOUBLE), timestamp, boolean.
#}
{% macro lakeqa_lake_contract() %}
    {{ return({
        'trades': {'trade_id': 'integer', 'price': 'number', 'qty': 'number', 'quote_qty': 'number',
                   'ts': 'timestamp', 'is_buyer_maker': 'boolean'},
        'quotes': {'update_id': 'integer', 'bid_price': 'number', 'bid_qty': 'number', 'ask_price': 'number',
                   'ask_qty': 'number', 'ts': 'timestamp'},
        'klines_1m': {'open_time': 'timestamp', 'open': 'number', 'high': 'number', 'low': 'number',
                      'close': 'number', 'volume': 'number', 'quote_volume': 'number', 'trade_count': 'integer',
                      'taker_buy_base': 'number', 'taker_buy_quote': 'number'},
        'bars_1s': {'ts': 'timestamp', 'open': 'number', 'high': 'number', 'low': 'number', 'close': 'number',
                    'volume_base': 'number', 'volume_quote': 'number', 'trade_count': 'integer', 'vwap': 'number',
                    'bid': 'number', 'ask': 'number', 'spread': 'number', 'spread_bps': 'number'},
        'funding_oi_hourly': {'ts': 'timestamp', 'funding_rate': 'number', 'open_interest': 'number'},
        'macro_minute': {'ts': 'timestamp', 'open': 'number', 'high': 'number', 'low': 'number', 'close': 'number',
                         'volume': 'number'},
    }) }}
{% endmacro %}


{#
    The context datasets (README "Context series"; the Python side is lakeqa.lake.CONTEXT_DATASETS): staged
    and checked when the lake has them, absent without a word (no log line, no freshness check, no
    missing-dataset rule), and judged apart from the crypto symbols: their violations are in `violations`
    and GE, but no verdict in `fusion` counts them.
#}
{% macro lakeqa_context_datasets() %}
    {{ return(['funding_oi_hourly', 'macro_minute']) }}
{% endmacro %}


{# An empty relation with the contract's columns (plus the hive columns), for a dataset with no files. #}
{% macro lakeqa_empty_dataset(columns) %}
    {% set sql_types = {'integer': 'bigint', 'number': 'double', 'timestamp': 'timestamp', 'boolean': 'boolean'} %}
    {% set selects = [] %}
    {% for name, kind in columns.items() %}
        {% do selects.append('cast(null as ' ~ sql_types[kind] ~ ') as ' ~ adapter.quote(name)) %}
    {% endfor %}
    {{ return("(select " ~ selects | join(', ') ~ ", cast(null as " ~ dbt.type_string() ~ ") as symbol, cast(null as date) as date "
              ~ "where false)") }}
{% endmacro %}


{#
    Checks every file's Parquet schema against the contract before any row is read.
    Removed or retyped columns raise an error naming the file and column; added columns warn.
#}
{% macro lakeqa_check_lake_schema(dataset, columns, files) %}
    {% set rows = lakeqa_lake_file_columns(files) %}
    {% set seen = {} %}
    {% set problems = [] %}
    {% set extras = [] %}
    {% for row in rows %}
        {% set file, name, kind, parquet_type = row[0], row[1], row[2], row[3] %}
        {% do seen.setdefault(file, []).append(name) %}
        {% if name in columns %}
            {% set expected = columns[name] %}
            {% set compatible = kind == expected or (expected == 'number' and kind == 'integer') %}
            {% if not compatible %}
                {% do problems.append("file " ~ file ~ ": column '" ~ name ~ "' is " ~ parquet_type
                                      ~ ", the lake contract wants " ~ expected) %}
            {% endif %}
        {% elif name not in ('symbol', 'date') %}
            {% do extras.append("file " ~ file ~ ": extra column '" ~ name ~ "' (ignored)") %}
        {% endif %}
    {% endfor %}
    {% for file, names in seen.items() %}
        {% for name in columns %}
            {% if name not in names %}
                {% do problems.append("file " ~ file ~ ": column '" ~ name ~ "' is missing") %}
            {% endif %}
        {% endfor %}
    {% endfor %}
    {% if extras %}
        {{ log("lakeqa: WARNING schema drift in lake dataset '" ~ dataset ~ "': " ~ extras[:5] | join('; ')
               ~ (' (and ' ~ (extras | length - 5) ~ ' more)' if extras | length > 5 else ''), info=True) }}
    {% endif %}
    {% if problems %}
        {{ exceptions.raise_compiler_error("lakeqa: schema drift in lake dataset '" ~ dataset ~ "', nothing was replaced: "
            ~ problems[:10] | join('; ') ~ (' (and ' ~ (problems | length - 10) ~ ' more)' if problems | length > 10 else '')) }}
    {% endif %}
{% endmacro %}


{#
    lakeqa_lake_file_columns(files) -> one (file, column, kind, parquet type) row per leaf column of each file,
    kinds as in lakeqa_lake_contract (else the type's own name), sorted by file and column.
    DuckDB: parquet_schema() over all the files at once (footers only). Spark: its schema of each file
    (DESCRIBE of a query over that one file: the footer, one small job per file), its types mapped.
#}
{% macro lakeqa_lake_file_columns(files) %}
    {{ return(adapter.dispatch('lakeqa_lake_file_columns', 'lakeqa')(files)) }}
{% endmacro %}

{% macro duckdb__lakeqa_lake_file_columns(files) %}
    {% set schema_sql %}
        select
            file_name,
            name,
            case
                when type = 'BOOLEAN' then 'boolean'
                when type = 'INT96' or coalesce(logical_type, '') ilike '%timestamp%'
                    or coalesce(converted_type, '') ilike 'timestamp%' then 'timestamp'
                when type in ('INT32', 'INT64') then 'integer'
                when type in ('FLOAT', 'DOUBLE') then 'number'
                else lower(coalesce(logical_type, converted_type, type))
            end as kind,
            coalesce(logical_type, type) as parquet_type
        from parquet_schema({{ lakeqa_file_list_sql(files) }})
        where num_children is null or num_children = 0
        order by file_name, name
    {% endset %}
    {{ return(run_query(schema_sql).rows) }}
{% endmacro %}

{% macro spark__lakeqa_lake_file_columns(files) %}
    {% set kinds = {'boolean': 'boolean', 'timestamp': 'timestamp', 'timestamp_ntz': 'timestamp',
                    'tinyint': 'integer', 'smallint': 'integer', 'int': 'integer', 'bigint': 'integer',
                    'float': 'number', 'double': 'number'} %}
    {% set rows = [] %}
    {% for file in files %}
        {% for column in run_query("describe query select * from parquet.`" ~ file.replace('`', '``') ~ "`").rows %}
            {% set spark_type = column[1] | lower %}
            {% do rows.append([file, column[0], kinds.get(spark_type, spark_type), spark_type]) %}
        {% endfor %}
    {% endfor %}
    {{ return(rows | sort(attribute='1') | sort(attribute='0')) }}
{% endmacro %}


{#
    lakeqa_lake_inventory(days) -> SQL listing the lake's partitions of the given days: one row per file,
    with its dataset, symbol and date parsed from its path (lakeqa_lake_layout). Used to know which symbols the lake held
    on a day (a symbol present yesterday and absent today gets a no-data verdict).
#}
{% macro lakeqa_lake_inventory(days) -%}
    {%- set globs = [] -%}
    {%- for day in days -%}{%- do globs.append(lakeqa_lake_glob('*', day)) -%}{%- endfor %}
    select
        {{ lakeqa_path_dataset('file') }} as dataset,
        {{ lakeqa_path_symbol('file') }} as symbol,
        {{ lakeqa_path_date('file') }} as date,
        file
    from {{ lakeqa_glob_files(globs) }}
{%- endmacro %}
