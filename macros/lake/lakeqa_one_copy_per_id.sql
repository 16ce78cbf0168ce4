{#
    lakeqa_one_copy_per_id(rows, id_column, value_columns) -> a select of `rows` (a CTE or relation with
    `symbol`, `id_column` and `value_columns`) with one row per (symbol, id): a record captured twice
    (overlapping capture files, a re-sent message) counts once.

    Every column of a duplicated id is taken from the same copy, the one with the smallest row hash:
    deterministic even if the copies disagree. Only the ids seen more than once go through that
    aggregation; every other row passes straight through in file order. Grouping all rows by (symbol, id)
    would return them in hash order, and the per-second aggregation downstream is then about four times
    slower (21 s instead of 8 s for 10 M trades, measured).

    When `lake_files` (the lake files the rows come from: lakeqa_lake_files) is given and they hold no id
    twice, the rows pass through as they are: see lakeqa_lake_ids_are_unique below.

    Example (stg_lake__trades):
      {{ lakeqa_one_copy_per_id('trades_in_window', 'trade_id',
                                ['ts', 'price', 'qty', 'quote_qty', 'is_buyer_maker'], trade_files) }}
#}
{% macro lakeqa_one_copy_per_id(rows, id_column, value_columns, lake_files=none) -%}
    {%- if lake_files is not none and lakeqa_lake_ids_are_unique(lake_files, id_column) %}
    select symbol, {{ id_column }}, {{ value_columns | join(', ') }} from {{ rows }}
    {%- else %}
    with

    duplicated_ids as (

        select symbol, {{ id_column }}
        from {{ rows }}
        group by symbol, {{ id_column }}
        having count(*) > 1

    ),

    seen_once as (

        select {{ rows }}.*
        from {{ rows }}
        {{ lakeqa_anti_join() }} duplicated_ids using (symbol, {{ id_column }})

    ),

    duplicated_hashed as (

        select {{ rows }}.*, hash({{ value_columns | join(', ') }}) as row_hash
        from {{ rows }}
        {{ lakeqa_semi_join() }} duplicated_ids using (symbol, {{ id_column }})

    ),

    duplicated_once as (

        select
            symbol,
            {{ id_column }},
            {%- for column in value_columns %}
            {{ lakeqa_arg_min(column, 'row_hash') }} as {{ column }}{{ "," if not loop.last }}
            {%- endfor %}
        from duplicated_hashed
        group by symbol, {{ id_column }}

    )

    select symbol, {{ id_column }}, {{ value_columns | join(', ') }} from seen_once
    union all
    select symbol, {{ id_column }}, {{ value_columns | join(', ') }} from duplicated_once
    {%- endif %}
{%- endmacro %}


{#
    lakeqa_lake_ids_are_unique(lake_files, id_column) -> true when no (symbol, id) occurs twice in the files
    (whole files: a superset of the window's rows), so the dedupe above has nothing to do and is left out.
    One log line says which path was taken.

    Three proofs, the cheaper first. Each needs the files of a symbol to cover id ranges that do not
    overlap (their Parquet statistics), and then, within each file, one of:
    - ids dense — as many non-NULL values as the integers from its smallest to its largest id, so none
      repeats — from the statistics alone (milliseconds). Exchange trade ids (aggregate trade ids) are
      consecutive, so a day's trades usually pass here.
    - ids strictly increasing in file order: `lakeqa run` reads the id columns while dbt starts
      (src/lakeqa/idproof.py) and lists the files that hold each id once (dense or increasing) in the
      JSON file named by env var LAKEQA_UNIQUE_ID_FILES. Book update ids have gaps but increase within each capture file, so a day's
      quotes pass here (for the 20 M quotes of the 10 M-trade benchmark day the hash aggregate below took
      3.7 s of the bars stage; the list is read while dbt parses).
    - else one streaming hash aggregate over (symbol, id): 19.5 CPU s for the dedupe and the per-second book
      of those 20 M quotes against 6.4 with a proof (measured). Checks of ids increasing inside DuckDB were
      measured and lost (a streaming window: 4.5 s).
    A lake with duplicates pays the proof on top of the dedupe.
    On Spark the proofs (DuckDB's Parquet metadata functions, the list `lakeqa run` writes) are not taken:
    every read goes through the dedupe, which gives the same rows.
#}
{% macro lakeqa_lake_ids_are_unique(lake_files, id_column) %}
    {{ return(adapter.dispatch('lakeqa_lake_ids_are_unique', 'lakeqa')(lake_files, id_column)) }}
{% endmacro %}

{% macro spark__lakeqa_lake_ids_are_unique(lake_files, id_column) %}
    {{ return(false) }}
{% endmacro %}

{% macro duckdb__lakeqa_lake_ids_are_unique(lake_files, id_column) %}
    {% if lake_files | length == 0 %}
        {{ return(true) }}
    {% endif %}
    {% set file_list_sql = lakeqa_file_list_sql(lake_files) %}
    {% set stats_sql %}
        with

        per_file as (

            select
                file_name,
                {{ lakeqa_path_symbol('file_name') }} as symbol,
                sum(num_values) as n_values,
                sum(stats_null_count) as n_null,
                min(try_cast(stats_min_value as hugeint)) as min_id,
                max(try_cast(stats_max_value as hugeint)) as max_id
            from parquet_metadata({{ file_list_sql }})
            where path_in_schema = {{ lakeqa_quote(id_column) }}
            group by file_name

        ),

        ordered as (

            select
                *,
                lag(max_id) over (partition by symbol order by min_id) as previous_max_id
            from per_file

        )

        select
            count(*) = {{ lake_files | length }}
                and bool_and(n_null = 0 and (previous_max_id is null or min_id > previous_max_id)) as ranges_apart,
            bool_and(max_id - min_id + 1 = n_values) as dense
        from ordered
    {% endset %}
    {% set stats = run_query(stats_sql).rows[0] %}
    {% if stats[0] and stats[1] %}
        {{ log("lakeqa: " ~ model.name ~ ": " ~ id_column ~ "s dense and apart in the " ~ lake_files | length
               ~ " files' statistics, read without dedupe", info=True) }}
        {{ return(true) }}
    {% endif %}
    {% if stats[0] %}
        {% set listed = {} %}
        {% for file in lakeqa_files_with_unique_ids() %}{% do listed.update({file: true}) %}{% endfor %}
        {% if lake_files | reject('in', listed) | list | length == 0 %}
            {{ log("lakeqa: " ~ model.name ~ ": " ~ id_column ~ "s increasing within each of the " ~ lake_files | length
                   ~ " files and apart between them, read without dedupe", info=True) }}
            {{ return(true) }}
        {% endif %}
    {% endif %}
    {% set hash_sql %}
        select count(*) from (
            select symbol, {{ id_column }}
            from {{ lakeqa_read_lake_files(lake_files, {id_column: 'integer'}) }}
            group by symbol, {{ id_column }}
            having count(*) > 1
        )
    {% endset %}
    {% set duplicated = run_query(hash_sql).columns[0].values()[0] %}
    {% if duplicated == 0 %}
        {{ log("lakeqa: " ~ model.name ~ ": no " ~ id_column ~ " twice in the " ~ lake_files | length
               ~ " files, read without dedupe", info=True) }}
    {% else %}
        {{ log("lakeqa: " ~ model.name ~ ": " ~ duplicated ~ " " ~ id_column ~ "s captured more than once, deduplicated", info=True) }}
    {% endif %}
    {{ return(duplicated == 0) }}
{% endmacro %}


{#
    lakeqa_files_with_unique_ids() -> the lake files that hold each of their ids once (dense, or strictly
    increasing in file order): the JSON list in the file env var LAKEQA_UNIQUE_ID_FILES names (`lakeqa run`
    writes it before dbt's first node, src/lakeqa/idproof.py); [] when the variable is unset (a plain
    `dbt build`) or names no file (the list could not be written).
#}
{% macro lakeqa_files_with_unique_ids() %}
    {% set path = env_var('LAKEQA_UNIQUE_ID_FILES', '') %}
    {% if path == '' or run_query("select count(*) from glob(" ~ lakeqa_quote(path) ~ ")").columns[0].values()[0] == 0 %}
        {{ return([]) }}
    {% endif %}
    {% set content = run_query("select content from read_text(" ~ lakeqa_quote(path) ~ ")").columns[0].values() %}
    {% set files = fromjson(content[0]) if content | length == 1 else none %}
    {% if files is not sequence or files is string %}
        {{ exceptions.raise_compiler_error("lakeqa: " ~ path ~ " (env var LAKEQA_UNIQUE_ID_FILES) must hold a JSON list of files") }}
    {% endif %}
    {{ return(files) }}
{% endmacro %}
