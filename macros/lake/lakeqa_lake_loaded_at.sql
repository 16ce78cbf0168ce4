{#
    lakeqa_lake_loaded_at(dataset_relation, ts_column) -> SQL selecting the newest `ts_column` of a lake
    dataset: the `loaded_at_query` of its source's freshness (models/staging/lake/_lake__sources.yml).

    dbt's plain `loaded_at_field` runs `select max(ts) from <source>`, and our sources are no tables: the
    lake is read by lakeqa_read_lake, so `from "lakeqa"."lake"."trades"` fails ("Table with name trades
    does not exist"). This reads the lake the way staging does, and cheaply: only the files of the
    dataset's newest date partition (rows land in the partition of their own UTC day, so it holds the
    newest row), after the same schema check. A lake holding no file of the dataset stops the check of
    that source with a message saying so: dbt would otherwise take the NULL for "infinitely long ago" and
    report the source ERROR STALE, which is no verdict on a dataset the lake does not carry (quotes are
    optional, bars_1s too). `lakeqa run` never gets here for one: it selects only the datasets holding
    files (lakeqa.freshness.datasets_in_lake) and reports the others "not in the lake". By hand, do the
    same: `dbt source freshness --select source:lake.trades source:lake.klines_1m`.

      dataset_relation  the source being checked (`this` in loaded_at_query); its identifier names the lake folder
      ts_column         the dataset's time column: ts, or open_time for klines_1m

    Example (a source table's config):
      loaded_at_query: "{{ lakeqa_lake_loaded_at(this, 'ts') }}"
#}
{% macro lakeqa_lake_loaded_at(dataset_relation, ts_column) %}
    {% set dataset = dataset_relation.identifier %}
    {% set root = lakeqa_lake_root() %}
    {% set newest_day_sql %}
        select cast(max({{ lakeqa_path_date('file') }}) as varchar)
        from glob({{ lakeqa_quote(lakeqa_lake_glob(dataset)) }})
    {% endset %}
    {% set newest_day = run_query(newest_day_sql).columns[0].values()[0] %}
    {% if not newest_day %}
        {{ exceptions.raise_compiler_error("lakeqa: no freshness for lake dataset '" ~ dataset ~ "': the lake at "
            ~ root ~ " (LAKE_ROOT) has no " ~ dataset ~ " files") }}
    {% endif %}
    {{ return("select max(" ~ adapter.quote(ts_column) ~ ") from "
              ~ lakeqa_read_lake(dataset_relation, [newest_day])) }}
{% endmacro %}
