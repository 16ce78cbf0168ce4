{#
    lakeqa_asof_left_join(left, right, by, ts, right_columns) -> a select of every row of `left` with
    columns of the latest `right` row of the same `by` whose `ts` is at or before the left row's (NULL
    where there is none): an as-of join. `right_columns` maps each output name to a column of `right`.

    Both engines: both sides go into one stream per `by`, ordered by `ts` with the right rows first on a
    tie (at or before), and each left row takes the last right row seen before it (last(..., ignore nulls)
    over the stream). Spark has no as-of join; on DuckDB its ASOF LEFT JOIN needs more memory (see the
    duckdb__ version), so the stream carries only the left keys and the match is joined back to `left`.

    Example (bars_1s: the book at the end of each traded second):
      {{ lakeqa_asof_left_join('trade_seconds', 'quote_seconds', 'symbol', 'ts',
                               {'book_bid': 'bid', 'book_ask': 'ask', 'last_quote_ts': 'last_quote_ts'}) }}
#}
{% macro lakeqa_asof_left_join(left, right, by, ts, right_columns) %}
    {{ return(adapter.dispatch('lakeqa_asof_left_join', 'lakeqa')(left, right, by, ts, right_columns)) }}
{% endmacro %}

{% macro duckdb__lakeqa_asof_left_join(left, right, by, ts, right_columns) -%}
    {#- DuckDB's own ASOF LEFT JOIN gives the same match, but held ~550 MB for bars_1s of a 10 M-trade day (its
        partitions and sorts, beyond the memory limit: the same at 400MB), the run's largest DuckDB step.
        Carrying each distinct left key through the stream and joining the match back to `left` takes
        ~310 MB and ~0.4 s more (1.5 s against 1.1 s for the model alone; identical rows). -#}
    {%- set right_fields = right_columns.values() | unique | list %}
    select
        {{ left }}.*,
        {%- for name, column in right_columns.items() %}
        lakeqa_match.lakeqa_right_row.{{ column }} as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ left }}
    left join (
        select
            {{ by }},
            {{ ts }},
            lakeqa_right_row
        from (
            select
                lakeqa_side,
                {{ by }},
                {{ ts }},
                last(lakeqa_right_row ignore nulls) over (
                    partition by {{ by }}
                    order by {{ ts }}, lakeqa_side
                    rows between unbounded preceding and current row
                ) as lakeqa_right_row
            from (
                select
                    {{ by }},
                    {{ ts }},
                    0 as lakeqa_side,
                    { {%- for column in right_fields %}'{{ column }}': {{ column }}{{ ", " if not loop.last }}{% endfor -%} }
                        as lakeqa_right_row
                from {{ right }}
                union all
                select distinct
                    {{ by }},
                    {{ ts }},
                    1 as lakeqa_side,
                    null as lakeqa_right_row
                from {{ left }}
            )
        )
        where lakeqa_side = 1
    ) as lakeqa_match
        on {{ left }}.{{ by }} = lakeqa_match.{{ by }}
            and {{ left }}.{{ ts }} = lakeqa_match.{{ ts }}
{%- endmacro %}

{% macro spark__lakeqa_asof_left_join(left, right, by, ts, right_columns) -%}
    select
        lakeqa_left_row.*,
        {%- for name, column in right_columns.items() %}
        lakeqa_right_row.{{ column }} as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        select
            lakeqa_side,
            lakeqa_left_row,
            last(lakeqa_right_row, true) over (
                partition by {{ by }}
                order by {{ ts }}, lakeqa_side
                rows between unbounded preceding and current row
            ) as lakeqa_right_row
        from (
            select {{ by }}, {{ ts }}, 0 as lakeqa_side, null as lakeqa_left_row,
                struct({{ right_columns.values() | unique | join(', ') }}) as lakeqa_right_row
            from {{ right }}
            union all
            select {{ by }}, {{ ts }}, 1 as lakeqa_side, struct({{ left }}.*) as lakeqa_left_row,
                null as lakeqa_right_row
            from {{ left }}
        )
    )
    where lakeqa_side = 1
{%- endmacro %}
