{#
    lakeqa_one_copy_per_id(rows, id_column, value_columns) -> a select of `rows` (a CTE or relation with
    `symbol`, `id_column` and `value_columns`) with one row per (symbol, id): a record captured twice
    (overlapping capture files, a re-sent message) counts once.

    Every column of a duplicated id is taken from the same copy, the one with the smallest row hash:
    deterministic even if the copies disagree. Only the ids seen more than once go through that
    aggregation; every other row passes straight through in file order. Grouping all rows by (symbol, id)
    would return them in hash order, and the per-second aggregation downstream is then about four times
    slower (21 s instead of 8 s for 10 M trades, measured).

    When `lake_read` (the lakeqa_read_lake expression the rows come from) is given and the lake's files
    hold no id twice, the rows pass through as they are: see lakeqa_lake_ids_are_unique below.

    Example (stg_lake__trades):
      {{ lakeqa_one_copy_per_id('trades_in_window', 'trade_id',
                                ['ts', 'price', 'qty', 'quote_qty', 'is_buyer_maker'], lake_trades) }}
#}
{% macro lakeqa_one_copy_per_id(rows, id_column, value_columns, lake_read=none) -%}
    {%- if lake_read is not none and lakeqa_lake_ids_are_unique(lake_read, id_column) %}
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
        anti join duplicated_ids using (symbol, {{ id_column }})

    ),

    duplicated_hashed as (

        select {{ rows }}.*, hash({{ value_columns | join(', ') }}) as row_hash
        from {{ rows }}
        semi join duplicated_ids using (symbol, {{ id_column }})

    ),

    duplicated_once as (

        select
            symbol,
            {{ id_column }},
            {%- for column in value_columns %}
            arg_min_null({{ column }}, row_hash) as {{ column }}{{ "," if not loop.last }}
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
    lakeqa_lake_ids_are_unique(lake_read, id_column) -> true when no (symbol, id) occurs twice in the lake
    files `lake_read` reads (whole files: a superset of the window's rows), so the dedupe above has
    nothing to do and is left out.

    Why a query at compile time: the dedupe costs far more than the proof. On the 10 M-trade benchmark day
    (20 M quotes) the proof is one streaming hash aggregate over two columns (2.3 s for quotes, 1.1 s for
    trades), where the dedupe's rows are referenced three times (duplicated ids, the rows seen once, the
    duplicated rows) and spill under the 1 GB memory limit (about 7 s more for quotes). Cheaper proofs were
    measured and lost: ids strictly increasing within each file checked by a streaming window in DuckDB
    (4.5 s) or in pyarrow + numpy (1.7 s, and a second reader of the lake). A lake with duplicates (capture
    files that overlap) pays the proof on top of the dedupe: one log line says which path was taken.

    False (the dedupe runs) when parsing, and in a dbt unit test, where `lake_read` is the test's given
    rows (a relation, not a lake expression): the unit test of the dedupe keeps testing the dedupe.
#}
{% macro lakeqa_lake_ids_are_unique(lake_read, id_column) %}
    {% if not execute or lake_read is not string %}
        {{ return(false) }}
    {% endif %}
    {% set proof_sql %}
        select count(*) from (
            select symbol, {{ id_column }} from {{ lake_read }}
            group by symbol, {{ id_column }}
            having count(*) > 1
        )
    {% endset %}
    {% set duplicated = run_query(proof_sql).columns[0].values()[0] %}
    {% if duplicated == 0 %}
        {{ log("lakeqa: " ~ model.name ~ ": no " ~ id_column ~ " twice in the lake's files, read without dedupe", info=True) }}
    {% else %}
        {{ log("lakeqa: " ~ model.name ~ ": " ~ duplicated ~ " " ~ id_column ~ "s captured more than once, deduplicated", info=True) }}
    {% endif %}
    {{ return(duplicated == 0) }}
{% endmacro %}
