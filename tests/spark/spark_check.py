"""`make spark-check`: the same dbt project built on Apache Spark (dbt-spark, method session) and on DuckDB,
from the same lakes, and the results compared row by row (README "Running on Spark").

Two lakes: a small generated one with every rule and detector fault injected on its last day, and the
shipped real Binance sample (data/sample/binance-ws). For each, the whole daily QA that dbt builds
(SPARK_SELECT: staging, bars, klines, rules, completeness, detectors, anomalies, fusion) is built with `dbt
build` on both targets for the same window (the generated lake's two days in one range, so that the second
day's detector thresholds are learned from the first); then DuckDB reads the Spark tables' Parquet files
in the Spark warehouse and compares each table with its DuckDB twin (compare_tables): every key present on
both sides, the exact columns identical (NaN equal to NaN, NULL to NULL), the JSON columns equal as JSON
values, the floating sums and statistics within a relative REL_TOLERANCE; and the failing rows of every
rule test (rule, symbol, ts, ts_end). On Spark the z-score and JUMP detectors are SQL models and
IsolationForest does not run (dbt-spark#415), so DuckDB builds with iforest.enabled false: its Python
detectors' records are compared with Spark's SQL ones. Prints one row per lake and table, the engines'
build times, and exits 1 on any difference, naming the rows."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAY = "2024-08-09"
# the generated lake's two days, built as one range
FIRST_DAY = "2024-08-08"

# On both engines: IsolationForest off (it cannot run on Spark, so DuckDB's verdicts are compared without it);
# the detectors' thresholds learned from a single earlier day (default 3), so that the range's second day is
# judged against its learned background, not as a cold start; and the z-scores' k at 3 (default 5), so that
# the clean first day gives the detectors' SQL and Python twins over a hundred records to agree on, clusters
# among them (at 5 the two days give three records).
BUILD_VARS = {"iforest.enabled": False, "detectors.min_training_days": 1, "zscore.k": 3.0}
WINDOWS = {"generated (faults)": {"from": FIRST_DAY, "to": DAY}, "real sample": {"day": DAY}}

# What the spark target builds (`dbt build`: seeds, models, their unit and data tests): the fusion and all
# it is built from, and the rule catalog. GE, the report and `lakeqa run`'s own steps are DuckDB's
# (README "Running on Spark").
SPARK_SELECT = ["+fusion", "+rule_catalog", "+rule_attachments"]

# The rule tests whose failing rows (dbt's store_failures tables) are compared: rule, symbol, ts, ts_end.
RULE_TESTS = ("r1_ohlc_order", "r2_positive_price", "r3_ask_ge_bid", "r4_no_nan", "r5_continuity",
              "r6_spread_sanity", "r7_kline_parity", "neg_volume")
RULE_CHECK_COLUMNS = ("rule", "symbol", "ts", "ts_end")

# DuckDB adds the per-second sums as HUGEINT and converts the total to DOUBLE in two halves (beyond 2^64
# units of 1e-12, i.e. sums above 1.8e7), Spark as DECIMAL(38, 0) converted with one rounding: the last bit
# may differ (macros/lake/lakeqa_exact_sum.sql). bar_features' trailing statistics are converted from the same
# exact integer sums (HUGEINT on DuckDB, DECIMAL(38, 0) on Spark) and their medians interpolated: the last
# bit may differ there too. Everything else is compared exactly.
REL_TOLERANCE = 1e-15


@dataclass(frozen=True)
class TableCheck:
    table: str
    key: tuple[str, ...]
    exact: tuple[str, ...]
    sums: tuple[str, ...] = ()
    # JSON texts, compared as JSON values (Spark writes 6.1E-5 and no spaces where DuckDB writes 6.1e-05)
    json: tuple[str, ...] = ()


CHECKS = (
    TableCheck("bars_1s", ("symbol", "ts"),
               ("date", "open", "high", "low", "close", "trade_count", "bid", "ask", "spread", "spread_bps"),
               ("volume_base", "volume_quote", "vwap")),
    TableCheck("bars_1m", ("symbol", "ts"),
               ("date", "open", "high", "low", "close", "trade_count", "bid", "ask", "spread", "spread_bps"),
               ("volume_base", "volume_quote", "vwap")),
    TableCheck("klines_1m", ("symbol", "ts", "open", "high", "low", "close", "volume", "trade_count"),
               ("date", "quote_volume", "taker_buy_base", "taker_buy_quote")),
    TableCheck("compare_our_vs_kline_1m", ("symbol", "ts"),
               ("date", "presence", "our_open", "our_high", "our_low", "our_close", "our_trade_count",
                "kline_open", "kline_high", "kline_low", "kline_close", "kline_volume", "kline_trade_count",
                "open_diff_bps", "high_diff_bps", "low_diff_bps", "close_diff_bps", "trade_count_diff",
                "is_match"),
               ("our_volume", "volume_rel_diff")),
    TableCheck("coverage", ("mode", "symbol", "dataset", "ts"),
               ("period_end", "date", "n_rows", "first_ts", "last_ts", "longest_silence_s", "longest_silence_start",
                "longest_silence_end", "covered_share", "null_share", "null_share_column", "hist_days_in_lake",
                "hist_last_date", "hist_days_measured", "hist_median_rows", "hist_min_rows",
                "hist_median_longest_silence_s", "hist_median_covered_share")),
    TableCheck("completeness_checks", ("check_name", "symbol", "ts", "subject"),
               ("ts_end", "date", "mode", "measured_value", "limit_value", "is_violation")),
    # the detail texts are not compared: Java's %g spells numbers apart from C's (README "Running on Spark")
    TableCheck("violations", ("rule", "symbol", "ts", "ts_end", "source_table"), ("date", "severity")),
    TableCheck("bar_features", ("symbol", "ts"),
               ("date", "close", "trade_count", "spread_bp", "log_volume", "vwap_drift_bp", "return_1s",
                "has_nonfinite_value", "spread_bp_trailing_n", "log_volume_trailing_n", "vwap_drift_bp_trailing_n",
                "return_1s_trailing_n", "tick_bp"),
               ("spread_bp_trailing_mean", "spread_bp_trailing_std", "log_volume_trailing_mean",
                "log_volume_trailing_std", "vwap_drift_bp_trailing_mean", "vwap_drift_bp_trailing_std",
                "return_1s_trailing_mean", "return_1s_trailing_std", "spread_bp_trailing_center",
                "spread_bp_trailing_scale", "log_volume_trailing_center", "log_volume_trailing_scale",
                "vwap_drift_bp_trailing_center", "vwap_drift_bp_trailing_scale", "return_1s_trailing_bipower_sigma")),
    TableCheck("detector_background", ("symbol", "date", "detector"), ("n_scored", "max_abs_z")),
    # the rationale is not compared byte for byte: Java's %g spells numbers apart from C's (README)
    TableCheck("anomalies", ("symbol", "ts", "detector"),
               ("date", "label", "confidence", "score", "baseline", "exceeds_background"), (),
               ("features", "cluster")),
    # the reason quotes violations' detail texts (above) and is not compared; the verdict, every figure
    # behind it and the metadata are
    TableCheck("fusion", ("symbol", "ts", "mode"),
               ("date", "verdict", "score", "schema_score", "detector_score", "ai_confidence", "n_bars",
                "n_violations_critical", "n_violations_major", "n_violations_minor", "n_anomalies",
                "n_anomaly_records"), (), ("metadata",)),
    TableCheck("rule_catalog", ("rule_id",),
               ("test_name", "name", "severity", "threshold_var", "threshold", "applies_to", "description")),
    TableCheck("rule_attachments", ("table_name", "test_id"), ("rule_id", "test_name", "arguments", "threshold")),
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def compare_tables(con: duckdb.DuckDBPyConnection, check: TableCheck, duck_table: str, spark_table: str,
                   limit: int = 5) -> tuple[int, int, list[str]]:
    """(DuckDB rows, Spark rows, the differences described) of one mart, both given as DuckDB relations."""
    key_join = " and ".join(f"d.{k} is not distinct from s.{k}" for k in check.key)
    exact = [f"d.{c} is distinct from s.{c}" for c in check.exact]
    sums = [f"(d.{c} is null) <> (s.{c} is null) or isnan(d.{c}) <> isnan(s.{c}) "
            f"or abs(d.{c} - s.{c}) > {REL_TOLERANCE} * greatest(abs(d.{c}), abs(s.{c}))" for c in check.sums]
    as_json = [f"json(d.{c})::varchar is distinct from json(s.{c})::varchar" for c in check.json]
    columns = list(check.exact) + list(check.sums) + list(check.json)
    differs = " or ".join(f"({e})" for e in exact + sums + as_json) or "false"
    n_duck = con.execute(f"select count(*) from {duck_table}").fetchone()[0]
    n_spark = con.execute(f"select count(*) from {spark_table}").fetchone()[0]
    key_list = ", ".join(check.key)
    problems = []
    for side, one, other in (("DuckDB", duck_table, spark_table), ("Spark", spark_table, duck_table)):
        rows = con.execute(
            f"select {key_list} from (select {key_list} from {one} except all select {key_list} from {other}) "
            f"order by all limit {limit}").fetchall()
        problems += [f"{check.table}: only on {side}: {_key_text(check, r)}" for r in rows]
    rows = con.execute(
        f"select {', '.join('d.' + k for k in check.key)}, "
        + ", ".join(f"d.{c}, s.{c}" for c in columns)
        + f" from {duck_table} d join {spark_table} s on {key_join} where {differs} order by all limit {limit}"
    ).fetchall()
    for r in rows:
        key = _key_text(check, r)
        values = r[len(check.key):]
        diffs = {c: (values[2 * i], values[2 * i + 1]) for i, c in enumerate(columns)
                 if values[2 * i] != values[2 * i + 1]
                 and not (values[2 * i] != values[2 * i] and values[2 * i + 1] != values[2 * i + 1])}
        problems.append(f"{check.table}: {key}: (DuckDB, Spark) {diffs}")
    return n_duck, n_spark, problems


def _key_text(check: TableCheck, row: tuple) -> str:
    return " ".join(f"{name}={value}" for name, value in zip(check.key, row))


def _run(cmd: list[str], env: dict[str, str], log: Path) -> float:
    started = time.monotonic()
    with log.open("a") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        done = subprocess.run(cmd, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = log.read_text().splitlines()[-40:]
        sys.exit("spark-check: failed: " + " ".join(cmd) + "\n" + "\n".join(tail) + f"\n(whole log: {log})")
    return time.monotonic() - started


def _make_lakes(work: Path, log: Path) -> dict[str, Path]:
    """The lakes, by name (the generated one's days: FIRST_DAY and DAY; the real sample's: DAY)."""
    lakes = {"generated (faults)": work / "lake-generated", "real sample": work / "lake-sample"}
    env = dict(os.environ)
    _run([str(BIN / "lakeqa"), "generate", "--lake", str(lakes["generated (faults)"]), "--date", DAY,
          "--days", "2", "--symbols", "13", "--trades-per-day", "60k", "--faults", "all", "--quiet"], env, log)
    _run([str(BIN / "lakeqa"), "import", str(PROJECT / "data/sample/binance-ws"),
          "--lake", str(lakes["real sample"]), "--quiet"], env, log)
    return lakes


def _build(engine: str, lake: Path, window: dict, out: Path, log: Path) -> float:
    env = dict(os.environ, LAKE_ROOT=str(lake), DBT_TARGET_PATH=str(out / "target"), DBT_LOG_PATH=str(out / "logs"),
               LAKEQA_WINDOW=json.dumps(window))
    if engine == "spark":
        env["LAKEQA_SPARK_DIR"] = str(out / "spark")
    else:
        env["DUCKDB_PATH"] = str(out / "lakeqa.duckdb")
    return _run([str(BIN / "dbt"), "build", "--target", "spark" if engine == "spark" else "dev",
                 "--select", *SPARK_SELECT, "--vars", json.dumps(BUILD_VARS)], env, log)


def _rule_tests(out: Path) -> list[str]:
    """The store_failures tables of the rule tests the build ran (its manifest), sorted."""
    manifest = json.loads((out / "target" / "manifest.json").read_text())
    return sorted(node["alias"] for node in manifest["nodes"].values()
                  if node["resource_type"] == "test"
                  and (node.get("test_metadata") or {}).get("name") in RULE_TESTS)


def _spark_table(out: Path, table: str, schema: str = "lakeqa", duck_schema: str = "main") -> str:
    """The Spark table's Parquet files as a DuckDB relation (an empty table has none: the DuckDB twin's columns)."""
    folder = out / "spark" / "warehouse" / f"{schema}.db" / table
    if not folder.is_dir():
        sys.exit(f"spark-check: Spark built no table {schema}.{table} (no {folder})")
    if not any(folder.rglob("*.parquet")):
        return f"(select * from {duck_schema}.{table} where false)"
    if not any(child.name.startswith("date=") for child in folder.iterdir()):
        return f"read_parquet({_quote(str(folder) + '/*.parquet')})"
    # a mart: partitioned by date (dbt_project.yml), which Spark keeps in the folder names only
    return (f"read_parquet({_quote(str(folder) + '/*/*.parquet')}, hive_partitioning = true, "
            "hive_types = {'date': 'DATE'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for the lakes and both engines' outputs (kept); "
                        "default: a temp folder, removed after")
    args = parser.parse_args(argv)
    if shutil.which("java") is None:
        sys.exit("spark-check: no java on PATH; Spark needs Java 17: apt-get install openjdk-17-jre-headless")
    work = args.work or Path(tempfile.mkdtemp(prefix="lakeqa-spark-check-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "spark-check.log"
    print(f"spark-check: lakes and builds in {work} (log: {log})", flush=True)
    try:
        lakes = _make_lakes(work, log)
        lines, failures = [], []
        for name, lake in lakes.items():
            outs = {engine: work / f"{lake.name}-{engine}" for engine in ("duckdb", "spark")}
            seconds = {}
            for engine, out in outs.items():
                print(f"spark-check: {name}: dbt build on {engine} ...", flush=True)
                seconds[engine] = _build(engine, lake, WINDOWS[name], out, log)
            con = duckdb.connect(str(outs["duckdb"] / "lakeqa.duckdb"), read_only=True)
            for check in CHECKS:
                n_duck, n_spark, problems = compare_tables(con, check, f"main.{check.table}",
                                                           _spark_table(outs["spark"], check.table))
                lines.append((name, check.table, n_duck, n_spark, "equal" if not problems else f"{len(problems)}+ differ"))
                failures += [f"{name}: {p}" for p in problems]
            tests = _rule_tests(outs["duckdb"])
            if tests != _rule_tests(outs["spark"]):
                failures.append(f"{name}: the engines ran different rule tests")
            n_duck = n_spark = 0
            rule_problems = []
            for test in tests:
                check = TableCheck(test, RULE_CHECK_COLUMNS, ())
                duck_rows, spark_rows, problems = compare_tables(
                    con, check, f"main_dbt_test__audit.{test}",
                    _spark_table(outs["spark"], test, "lakeqa_dbt_test__audit", "main_dbt_test__audit"))
                n_duck, n_spark = n_duck + duck_rows, n_spark + spark_rows
                rule_problems += problems
            lines.append((name, f"rule tests ({len(tests)}), failing rows", n_duck, n_spark,
                          "equal" if not rule_problems else f"{len(rule_problems)}+ differ"))
            failures += [f"{name}: {p}" for p in rule_problems]
            con.close()
            lines.append((name, "(dbt build, seconds)", f"{seconds['duckdb']:.1f}", f"{seconds['spark']:.1f}", ""))
        width = max(len(line[0]) for line in lines)
        print(f"\n{'lake':<{width}}  {'table':<34} {'DuckDB':>9} {'Spark':>9}  result")
        for lake_name, table, n_duck, n_spark, result in lines:
            print(f"{lake_name:<{width}}  {table:<34} {n_duck!s:>9} {n_spark!s:>9}  {result}")
        if failures:
            print("\nspark-check: the engines differ:\n  " + "\n  ".join(failures), file=sys.stderr)
            return 1
        print(f"\nspark-check: Spark and DuckDB agree on {len(CHECKS)} marts and the rule tests' failing rows "
              f"of {len(lakes)} lakes (sums to a relative {REL_TOLERANCE:g}, everything else exactly)")
        return 0
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
