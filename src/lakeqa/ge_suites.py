"""The rules as Great Expectations suites, generated from the rule catalog; a checkpoint per day; Data Docs.

What is checked comes from the rule catalog (``seeds/rule_catalog.csv``, as loaded into DuckDB's
``rule_catalog`` table by the build): each row's ``applies_to`` names the tables, ``threshold_var`` /
``threshold_default`` the threshold (a dbt var value passed in ``vars`` wins over the default). How a rule
becomes expectations is the job of one builder per rule id below (``BUILDERS``); a catalog rule without a
builder, or a table a builder has no mapping for, is an error (``GeSuiteError``), never a silent skip.
Every expectation's ``meta`` carries the rule id, name, severity, description and threshold; Data Docs
show the rule id and severity in each expectation's ``description`` ("R6_SPREAD_SANITY (major): spread_bps
< 500", in place of GE's own sentence) and the catalog's text in its ``notes`` (suite page); GE's own
``severity`` is set too (critical / warning / info for critical / major / minor). (GE 1.24's
"meta_properties" columns on validation pages fail on pair expectations, so they are not used.)

Mapping (GE's own expectations wherever one exists):

* R1_OHLC_ORDER: ``ExpectColumnPairValuesAToBeGreaterThanB`` high >= open, high >= close, open >= low,
  close >= low (``or_equal``), on rows where all four prices are present: the dbt rule leaves a row with
  any NULL/NaN price to R4, so each pair carries the row condition "open, high, low, close are not null".
* R2_POSITIVE_PRICE: ``ExpectColumnValuesToBeBetween(min_value=0, strict_min=True)`` on open, high, low,
  close. GE's "between" ignores nulls, and pandas counts NaN as null: rows with a missing price are R4's,
  as in dbt (DuckDB's ``least()`` skips NULL and ranks NaN above every number).
* R3_ASK_GE_BID: ``ExpectColumnPairValuesAToBeGreaterThanB(ask, bid, or_equal=True,
  ignore_row_if='either_value_is_missing')``.
* R4_NO_NAN: ``ExpectColumnValuesToNotBeNull`` on open, high, low, close (NaN is null in pandas).
* R5_CONTINUITY duplicates: ``ExpectCompoundColumnsToBeUnique(symbol, ts)``.
* R5_CONTINUITY gaps: GE has no gap expectation, and a gap is not a row of the table (on bars it is the
  time between two seconds with trades *or quotes*; the last second before a gap is often a quote-only
  second that has no bar). So each table with R5 gets a companion suite ``<table>__r5_gaps`` that validates
  a derived batch, computed in SQL exactly as ``macros/rules/test_r5_continuity.sql`` does:
  bars (gap kind 'activity'): one row per second of ``int_symbol_activity_seconds`` of the day that has a
  next active second the same UTC day, with ``gap_s`` to it and the symbol's ``max_gap_s``
  (``symbol_settings``, default var ``default_max_gap_s``), checked with
  ``ExpectColumnPairValuesAToBeGreaterThanB(max_gap_s, gap_s, or_equal=True)``; klines (gap kind
  'minutes'): one row per present minute with ``missing_minutes`` before the next present minute, checked
  with ``ExpectColumnValuesToBeBetween(missing_minutes, max_value=0)``. The derived rows' ``ts`` is where
  ``violations`` reports the gap (the last active second floored to the table's grain; the first missing
  minute), so GE's unexpected rows and dbt's violations name the same (symbol, ts).
  ``int_symbol_activity_seconds`` is a dbt view over the lake files of the *last build's* window: when it
  has no rows for the day while the table has, the run stops with a message saying to rebuild the day.
* R6_SPREAD_SANITY: ``ExpectColumnValuesToBeBetween(spread_bps, max_value=threshold, strict_max=True)``.
* R7_KLINE_PARITY: ``ExpectColumnValuesToBeInSet(is_match, [True])`` on compare_our_vs_kline_1m; a NULL
  is_match (no exchange klines that day) is not a violation and GE's in-set ignores nulls. The price and
  volume tolerances were applied by dbt when it computed ``is_match``: the threshold shown in ``meta`` is
  informational, GE does not re-apply it.
* NEG_VOLUME: ``ExpectColumnValuesToBeBetween(min_value=0)`` on volume_base, volume_quote (klines:
  volume, quote_volume).

Why pandas batches and not GE's SQL datasource: GE's SQL datasource on DuckDB is broken (IndexError in
``resolve_metric_bundle``, GE issues #10738 and #11579; reproduced with GE 1.24.1 and duckdb-engine, which
is not even installed here). So the day's rows are read from DuckDB (read-only, closed before returning)
into pandas with ``.df()`` and validated as pandas batches: a pandas data source with one dataframe asset
per batch and ``batch_parameters={"dataframe": df}``. Only the columns the suite's expectations use (plus
symbol, ts) are read.

Why one Checkpoint per suite: GE 1.x's ``Checkpoint.run`` passes one ``batch_parameters`` dict to all of
its validation definitions, and a dataframe asset takes its dataframe from there, so one checkpoint can
only validate one dataframe. Each suite therefore has its own Checkpoint (one validation definition),
all run with the same run id (run name = the day, run time = the day's 00:00 UTC), so re-running a day
replaces that day's results in Data Docs and leaves the other days alone. The Data Docs site is then
updated once for all of the day's results (``build_data_docs`` with their identifiers) rather than by an
``UpdateDataDocsAction`` per checkpoint, which would rebuild the index page (reading up to
DOCS_INDEX_LIMIT stored results) and copy the static assets once per suite.

Where things go: a GE file context under ``<output_root>/ge/gx/`` (suites, validation results,
checkpoints, written by GE) and the Data Docs site under ``<output_root>/ge/data_docs/`` (``index.html``);
the site's path is stored relative to the context. GE's usage statistics are off
(``GX_ANALYTICS_ENABLED=false``), its progress bars are off, its logging is quiet; nothing is fetched from
the network.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lakeqa.lake import LakeError
from lakeqa.settings import PROJECT_DIR

# Before great_expectations is imported (it is imported lazily: it takes seconds).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

__all__ = [
    "BUILDERS",
    "CATALOG_PATH",
    "GeSuiteError",
    "Rule",
    "SuitePlan",
    "build_suites",
    "load_catalog",
    "register",
    "run_ge_checkpoint",
]

CATALOG_PATH = PROJECT_DIR / "seeds" / "rule_catalog.csv"
CATALOG_COLUMNS = ("rule_id", "name", "severity", "threshold_var", "threshold_default", "applies_to", "description")

TABLES = ("bars_1s", "bars_1m", "klines_1m", "compare_our_vs_kline_1m")
PRICE_TABLES = ("bars_1s", "bars_1m", "klines_1m")
QUOTE_TABLES = ("bars_1s", "bars_1m")
OHLC = ("open", "high", "low", "close")
# the volume columns NEG_VOLUME checks per table, as models/marts/rules/violations.sql passes them
VOLUME_COLUMNS = {
    "bars_1s": ("volume_base", "volume_quote"),
    "bars_1m": ("volume_base", "volume_quote"),
    "klines_1m": ("volume", "quote_volume"),
}
# R5 gap kind and reporting grain per table, as models/marts/rules/violations.sql passes them
R5_GAPS = {"bars_1s": ("activity", "second"), "bars_1m": ("activity", "minute"), "klines_1m": ("minutes", "minute")}
KEY_COLUMNS = ["symbol", "ts"]
ROWS, GAPS = "rows", "r5_gaps"
GAPS_SUFFIX = "__r5_gaps"
SITE_NAME = "lakeqa"
DATASOURCE_NAME = "lakeqa"
RESULT_FORMATS = ("BOOLEAN_ONLY", "BASIC", "SUMMARY", "COMPLETE")
# catalog severity -> GE's FailureSeverity
GX_SEVERITY = {"critical": "critical", "major": "warning", "minor": "info"}
DOCS_INDEX_LIMIT = 1000  # validation results on the Data Docs index: about 140 days of 7 suites


class GeSuiteError(LakeError):
    """The catalog cannot be turned into suites, or the DuckDB file cannot give the batches they need."""


@dataclass(frozen=True)
class Rule:
    """One row of the rule catalog."""

    rule_id: str
    name: str
    severity: str
    threshold_var: str
    threshold_default: str
    applies_to: tuple[str, ...]
    description: str

    def threshold(self, vars: dict | None) -> float | None:
        """The dbt var value when ``vars`` has the rule's threshold_var, else the catalog default."""
        raw = None
        if self.threshold_var and vars and vars.get(self.threshold_var) is not None:
            raw = vars[self.threshold_var]
        elif str(self.threshold_default).strip() != "":
            raw = self.threshold_default
        if raw is None:
            return None
        try:
            return float(raw)
        except (TypeError, ValueError) as exc:
            source = f"var {self.threshold_var}" if self.threshold_var else "threshold_default"
            raise GeSuiteError(f"{self.rule_id}: {source} must be a number, got {raw!r}") from exc


@dataclass
class SuitePlan:
    """One GE suite and the batch it validates: the rows of ``table`` for the day, or the derived R5 gaps."""

    name: str
    table: str
    batch: str  # ROWS or GAPS
    expectations: list = field(default_factory=list)  # great_expectations Expectation objects
    batch_params: dict = field(default_factory=dict)  # e.g. default_max_gap_s for the activity gaps

    def rule_ids(self) -> list[str]:
        return list(dict.fromkeys(e.meta["rule_id"] for e in self.expectations))

    def columns(self) -> list[str]:
        """The columns the batch needs: the key, then every column an expectation names."""
        cols = list(KEY_COLUMNS)
        for e in self.expectations:
            kwargs = e.configuration.kwargs
            for name in ("column", "column_A", "column_B"):
                if kwargs.get(name):
                    cols.append(kwargs[name])
            cols.extend(kwargs.get("column_list") or [])
            cols.extend(_condition_columns(kwargs.get("row_condition")))
        return list(dict.fromkeys(cols))

    def to_gx_suite(self):
        import great_expectations as gx

        derived = (
            " Its rows are derived from the day's data (see macros/rules/test_r5_continuity.sql): GE has no"
            " gap expectation, and a gap is not a row of the table."
        )
        return gx.ExpectationSuite(
            name=self.name,
            expectations=[e.copy() for e in self.expectations],
            notes=[
                f"Generated by lakeqa from the rule catalog (seeds/rule_catalog.csv) for table **{self.table}**."
                + (derived if self.batch == GAPS else ""),
                "Rules: " + ", ".join(self.rule_ids()),
            ],
            meta={
                "lakeqa_table": self.table,
                "lakeqa_batch": self.batch,
            },
        )


def _condition_columns(condition) -> list[str]:
    """The columns a row condition (GE's dict form: {"column": {"name": ...}} / {"conditions": [...]}) uses."""
    if isinstance(condition, dict):
        found = []
        column = condition.get("column")
        if isinstance(column, dict) and column.get("name"):
            found.append(column["name"])
        for inner in condition.get("conditions") or []:
            found.extend(_condition_columns(inner))
        return found
    return []


# ---------------------------------------------------------------------------------------------- catalog


def load_catalog(source: Path | str | Iterable[dict] | None = None) -> list[Rule]:
    """The rule catalog from a CSV file (default: the project's seed) or from rows (dicts)."""
    if source is None:
        source = CATALOG_PATH
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise GeSuiteError(f"rule catalog {path} does not exist")
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        where = str(path)
    else:
        rows = [dict(r) for r in source]
        where = "the rule catalog"
    rules = []
    for n, row in enumerate(rows, start=2):
        missing = [c for c in CATALOG_COLUMNS if c not in row]
        if missing:
            raise GeSuiteError(f"{where}: row {n} lacks column(s) {', '.join(missing)}")
        rule_id = str(row["rule_id"] or "").strip()
        if not rule_id:
            raise GeSuiteError(f"{where}: row {n} has an empty rule_id")
        rules.append(
            Rule(
                rule_id=rule_id,
                name=str(row["name"] or ""),
                severity=str(row["severity"] or ""),
                threshold_var=str(row["threshold_var"] or "").strip(),
                threshold_default="" if row["threshold_default"] is None else str(row["threshold_default"]),
                applies_to=tuple(str(row["applies_to"] or "").split()),
                description=str(row["description"] or ""),
            )
        )
    seen = set()
    for rule in rules:
        if rule.rule_id in seen:
            raise GeSuiteError(f"{where}: rule {rule.rule_id} appears twice")
        seen.add(rule.rule_id)
    return rules


def _catalog_from_duckdb(con) -> list[Rule] | None:
    found = con.execute(
        "select table_schema from information_schema.tables where table_name = 'rule_catalog'"
    ).fetchall()
    if not found:
        return None
    df = con.execute(f'select * from "{found[0][0]}".rule_catalog').df()
    df = df.astype(object).where(df.notna(), None)
    return load_catalog(df.to_dict("records"))


# --------------------------------------------------------------------------------------------- builders


def _meta(rule: Rule, threshold: float | None, what: str, how: str) -> dict:
    """Keyword arguments every generated expectation gets: the catalog's rule in ``meta``; a
    ``description`` that Data Docs show in place of GE's own sentence ("R6_SPREAD_SANITY (major): ...");
    the catalog's text and how the rule maps to GE as ``notes`` (shown on the suite page); GE's own
    ``severity`` (critical / warning / info from critical / major / minor)."""
    from great_expectations.expectations.metadata_types import FailureSeverity

    return {
        "meta": {
            "rule_id": rule.rule_id,
            "rule_name": rule.name,
            "severity": rule.severity,
            "description": rule.description,
            "threshold_var": rule.threshold_var or None,
            "threshold": threshold,
        },
        # no "$" here: GE renders the description as a string template
        "description": f"{rule.rule_id} ({rule.severity}): {what}".replace("$", ""),
        "notes": [f"**{rule.rule_id}** ({rule.severity}) {rule.name}: {rule.description}", how],
        "severity": FailureSeverity(GX_SEVERITY.get(rule.severity, "warning")),
    }


def _needs(rule: Rule, table: str, allowed: Iterable[str]) -> None:
    if table not in allowed:
        raise GeSuiteError(
            f"catalog rule {rule.rule_id} applies to {table}, but its GE builder has no mapping for that table"
            f" (it knows {', '.join(allowed)})"
        )


Built = list[tuple[str, object]]  # (ROWS or GAPS, a great_expectations Expectation)


def _r1(rule: Rule, table: str, threshold: float | None) -> Built:
    from great_expectations import expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    _needs(rule, table, PRICE_TABLES)
    prices_present = (
        Column("open").is_not_null() & Column("high").is_not_null()
        & Column("low").is_not_null() & Column("close").is_not_null()
    )
    how = "Rows with a NULL/NaN price are left to R4_NO_NAN, as in the dbt rule (row condition)."
    return [
        (ROWS, gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=a, column_B=b, or_equal=True, ignore_row_if="either_value_is_missing",
            row_condition=prices_present,
            **_meta(rule, threshold, f"{a} >= {b} (rows with all four prices present)", how)))
        for a, b in [("high", "open"), ("high", "close"), ("open", "low"), ("close", "low")]
    ]


def _r2(rule: Rule, table: str, threshold: float | None) -> Built:
    from great_expectations import expectations as gxe

    _needs(rule, table, PRICE_TABLES)
    how = "NULL/NaN prices are not checked here (R4_NO_NAN reports them)."
    return [
        (ROWS, gxe.ExpectColumnValuesToBeBetween(
            column=c, min_value=0, strict_min=True, **_meta(rule, threshold, f"{c} > 0", how)))
        for c in OHLC
    ]


def _r3(rule: Rule, table: str, threshold: float | None) -> Built:
    from great_expectations import expectations as gxe

    _needs(rule, table, QUOTE_TABLES)
    how = "Rows without a fresh quote (bid or ask NULL) are not checked."
    return [(ROWS, gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A="ask", column_B="bid", or_equal=True, ignore_row_if="either_value_is_missing",
        **_meta(rule, threshold, "ask >= bid where both are known", how)))]


def _r4(rule: Rule, table: str, threshold: float | None) -> Built:
    from great_expectations import expectations as gxe

    _needs(rule, table, PRICE_TABLES)
    how = "NaN counts as missing (pandas treats NaN as null)."
    return [
        (ROWS, gxe.ExpectColumnValuesToNotBeNull(
            column=c, **_meta(rule, threshold, f"{c} is never NULL or NaN", how)))
        for c in OHLC
    ]


def _r5(rule: Rule, table: str, threshold: float | None) -> Built:
    from great_expectations import expectations as gxe

    _needs(rule, table, tuple(R5_GAPS))
    kind, grain = R5_GAPS[table]
    out: Built = [(ROWS, gxe.ExpectCompoundColumnsToBeUnique(
        column_list=list(KEY_COLUMNS),
        **_meta(rule, threshold, "no duplicate timestamps: (symbol, ts) is unique",
                "A (symbol, ts) that appears more than once is one violation in dbt; GE flags every copy.")))]
    if kind == "activity":
        if threshold is None:
            raise GeSuiteError(f"{rule.rule_id} needs a threshold (var {rule.threshold_var or '?'}) for its gaps")
        how = (
            "Gaps: one derived row per second with trades or quotes (int_symbol_activity_seconds) that has a"
            " next active second the same UTC day; gap_s to it must not exceed the symbol's max_gap_s"
            f" (symbol_settings, else {rule.threshold_var} = {threshold:g}). ts is the last active second"
            f" floored to the {grain}, where the violations table reports the gap."
        )
        out.append((GAPS, gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="max_gap_s", column_B="gap_s", or_equal=True, ignore_row_if="either_value_is_missing",
            **_meta(rule, threshold, "no stretch without trades and quotes longer than the symbol's max_gap_s"
                    " (max_gap_s >= gap_s)", how))))
    else:
        how = (
            "Gaps: one derived row per present minute of the exchange klines that has a next present minute"
            " the same UTC day; no minute may be missing between them. ts is the first missing minute."
        )
        out.append((GAPS, gxe.ExpectColumnValuesToBeBetween(
            column="missing_minutes", max_value=0,
            **_meta(rule, threshold, "no missing exchange minute (missing_minutes = 0)", how))))
    return out


def _r6(rule: Rule, table: str, threshold: float | None) -> Built:
    from great_expectations import expectations as gxe

    _needs(rule, table, QUOTE_TABLES)
    if threshold is None or threshold <= 0:
        raise GeSuiteError(
            f"{rule.rule_id}: the maximum spread (var {rule.threshold_var or '?'}) must be a positive number,"
            f" got {threshold!r}"
        )
    how = f"{rule.threshold_var} = {threshold:g}; rows without quotes (spread_bps NULL) are not checked."
    return [(ROWS, gxe.ExpectColumnValuesToBeBetween(
        column="spread_bps", max_value=threshold, strict_max=True,
        **_meta(rule, threshold, f"spread_bps < {threshold:g}", how)))]


def _r7(rule: Rule, table: str, threshold: float | None) -> Built:
    from great_expectations import expectations as gxe

    _needs(rule, table, ("compare_our_vs_kline_1m",))
    how = (
        "is_match was computed by dbt with the build's tolerance vars (compare_price_tolerance_bps,"
        " compare_volume_tolerance_rel); a NULL is_match (no exchange klines that day) is not a violation."
    )
    return [(ROWS, gxe.ExpectColumnValuesToBeInSet(
        column="is_match", value_set=[True],
        **_meta(rule, threshold, "our 1m bar equals the exchange kline (is_match is true)", how)))]


def _neg_volume(rule: Rule, table: str, threshold: float | None) -> Built:
    from great_expectations import expectations as gxe

    _needs(rule, table, tuple(VOLUME_COLUMNS))
    how = "NULL/NaN volumes are not checked."
    return [
        (ROWS, gxe.ExpectColumnValuesToBeBetween(
            column=c, min_value=0, **_meta(rule, threshold, f"{c} >= 0", how)))
        for c in VOLUME_COLUMNS[table]
    ]


# rule id -> builder(rule, table, threshold) -> [(batch, expectation)]: the "how"; the catalog is the "what"
BUILDERS: dict[str, Callable[[Rule, str, float | None], Built]] = {
    "R1_OHLC_ORDER": _r1,
    "R2_POSITIVE_PRICE": _r2,
    "R3_ASK_GE_BID": _r3,
    "R4_NO_NAN": _r4,
    "R5_CONTINUITY": _r5,
    "R6_SPREAD_SANITY": _r6,
    "R7_KLINE_PARITY": _r7,
    "NEG_VOLUME": _neg_volume,
}


def build_suites(
    catalog: Path | str | Iterable[dict] | list[Rule] | None = None, vars: dict | None = None
) -> dict[str, SuitePlan]:
    """One SuitePlan per table the catalog's rules apply to (plus ``<table>__r5_gaps`` where R5 applies),
    in catalog order. Raises GeSuiteError for a rule without a builder or a table without a batch."""
    rules = catalog if isinstance(catalog, list) and all(isinstance(r, Rule) for r in catalog) else None
    if rules is None:
        rules = load_catalog(catalog)
    plans: dict[str, SuitePlan] = {}
    for rule in rules:
        builder = BUILDERS.get(rule.rule_id)
        if builder is None:
            raise GeSuiteError(
                f"catalog rule {rule.rule_id} has no Great Expectations builder in lakeqa.ge_suites.BUILDERS"
                f" (known: {', '.join(BUILDERS)}); add one, or remove the rule from the catalog"
            )
        if not rule.applies_to:
            raise GeSuiteError(f"catalog rule {rule.rule_id} has an empty applies_to")
        threshold = rule.threshold(vars)
        for table in rule.applies_to:
            if table not in TABLES:
                raise GeSuiteError(
                    f"catalog rule {rule.rule_id} applies to {table!r}, which has no GE batch"
                    f" (tables: {', '.join(TABLES)})"
                )
            for batch, expectation in builder(rule, table, threshold):
                name = table if batch == ROWS else table + GAPS_SUFFIX
                plan = plans.setdefault(name, SuitePlan(name=name, table=table, batch=batch))
                plan.expectations.append(expectation)
                if batch == GAPS and R5_GAPS[table][0] == "activity":
                    plan.batch_params["default_max_gap_s"] = threshold
    return plans


# ---------------------------------------------------------------------------------------------- batches


def _day_bounds(day: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time())
    except (TypeError, ValueError) as exc:
        raise GeSuiteError(f"day must be YYYY-MM-DD, got {day!r}") from exc
    return start, start + dt.timedelta(days=1)


def _relation(con, table: str) -> tuple[str, set[str]]:
    rows = con.execute(
        "select table_schema, column_name from information_schema.columns where table_name = ?", [table]
    ).fetchall()
    if not rows:
        raise GeSuiteError(f"table {table} is not in the DuckDB file; build it first (lakeqa run / dbt build)")
    schema = rows[0][0]
    return f'"{schema}"."{table}"', {c for s, c in rows if s == schema}


def _activity_gaps(con, start, end, default_max_gap_s: float):
    activity, _ = _relation(con, "int_symbol_activity_seconds")
    settings, _ = _relation(con, "symbol_settings")
    sql = f"""
        with activity as (
            select distinct symbol, ts from {activity} where ts >= ? and ts < ?
        ),
        with_next as (
            select
                activity.symbol,
                activity.ts as last_active_ts,
                lead(activity.ts) over (
                    partition by activity.symbol, cast(activity.ts as date) order by activity.ts
                ) as next_active_ts,
                cast(coalesce(settings.max_gap_s, ?) as double) as max_gap_s
            from activity
            left join {settings} as settings on activity.symbol = settings.symbol
        )
        select symbol, last_active_ts as ts, last_active_ts, next_active_ts,
               epoch(next_active_ts - last_active_ts) as gap_s, max_gap_s
        from with_next
        where next_active_ts is not null
        order by symbol, last_active_ts
    """
    try:
        return con.execute(sql, [start, end, default_max_gap_s]).df()
    except Exception as exc:  # the view reads lake files that may have moved since the build
        raise GeSuiteError(f"cannot read int_symbol_activity_seconds for R5 gaps: {exc}") from exc


def _minute_gaps(con, relation: str, start, end):
    sql = f"""
        with minutes as (
            select distinct symbol, ts from {relation} where ts >= ? and ts < ?
        ),
        with_next as (
            select symbol, ts, lead(ts) over (partition by symbol, cast(ts as date) order by ts) as next_ts
            from minutes
        )
        select symbol, ts + interval 1 minute as ts, ts as present_ts, next_ts as next_present_ts,
               epoch(next_ts - ts) / 60 - 1 as missing_minutes
        from with_next
        where next_ts is not null
        order by symbol, present_ts
    """
    return con.execute(sql, [start, end]).df()


class _Batches:
    """Reads each plan's batch for the day from one read-only DuckDB connection."""

    def __init__(self, con, day: str):
        self.con = con
        self.day = day
        self.start, self.end = _day_bounds(day)
        self._activity: dict[float, object] = {}
        self._row_counts: dict[str, int] = {}

    def rows_in_table(self, table: str) -> int:
        if table not in self._row_counts:
            relation, _ = _relation(self.con, table)
            self._row_counts[table] = self.con.execute(
                f"select count(*) from {relation} where ts >= ? and ts < ?", [self.start, self.end]
            ).fetchone()[0]
        return self._row_counts[table]

    def load(self, plan: SuitePlan):
        relation, columns = _relation(self.con, plan.table)
        if plan.batch == ROWS:
            wanted = plan.columns()
            missing = [c for c in wanted if c not in columns]
            if missing:
                raise GeSuiteError(
                    f"table {plan.table} lacks column(s) {', '.join(missing)} that suite {plan.name} checks"
                )
            cols = ", ".join(f'"{c}"' for c in wanted)
            return self.con.execute(
                f"select {cols} from {relation} where ts >= ? and ts < ? order by symbol, ts",
                [self.start, self.end],
            ).df()
        kind, grain = R5_GAPS[plan.table]
        if kind == "minutes":
            return _minute_gaps(self.con, relation, self.start, self.end)
        default = float(plan.batch_params["default_max_gap_s"])
        if default not in self._activity:
            gaps = _activity_gaps(self.con, self.start, self.end, default)
            if gaps.empty and self.rows_in_table(plan.table) > 0:
                raise GeSuiteError(
                    f"int_symbol_activity_seconds has no rows for {self.day} although {plan.table} has: the"
                    " view reads the lake files of the last dbt build's window; rebuild the day"
                    f" (lakeqa run --day {self.day}) before validating it with GE"
                )
            self._activity[default] = gaps
        gaps = self._activity[default].copy()
        if grain == "minute":
            gaps["ts"] = gaps["last_active_ts"].dt.floor("min")
        return gaps


# ------------------------------------------------------------------------------------------- checkpoint


def _quiet_gx() -> None:
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _context(ge_root: Path):
    """GE's file context under ``ge_root/gx``, with the Data Docs site at ``ge_root/data_docs``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ge_root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(ge_root))
    if context.variables.config_variables_file_path:
        # GE re-reads and YAML-parses uncommitted/config_variables.yml on every lookup of a context
        # variable, about 350 times a checkpoint run (~1 s); lakeqa substitutes no config variables, so the
        # context goes without the file. The provider is chosen when the context opens: open it again.
        context.variables.config_variables_file_path = None
        context.variables.save()
        context = gx.get_context(mode="file", project_root_dir=str(ge_root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.config.analytics_enabled = False
    sites = dict(context.config.data_docs_sites or {})
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        # relative to the context root (ge_root/gx), so no absolute path is stored
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": "../data_docs/"},
        # the index lists (and GE loads, on every build) at most this many validation results, newest first
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "validation_results_limit": DOCS_INDEX_LIMIT},
    }
    if sites.get(SITE_NAME) != site or "local_site" in sites:
        sites.pop("local_site", None)  # GE's default site: lakeqa's is the only one
        sites[SITE_NAME] = site
        context.variables.data_docs_sites = sites
    context.variables.save()
    return context


class _CompiledTemplates:
    """Reuse of GE's compiled Data Docs templates for the length of a checkpoint run.

    GE renders every Data Docs page through a new ``DefaultJinjaView``, and each makes its own jinja
    Environment, so every page compiles its ~18 templates from source again: about 3 s of a 15 s GE step
    here (7 suites; measured by running the step with and without this). jinja's documented remedy is a
    bytecode cache on the Environment, keyed by template name and source checksum, so the pages come out
    the same. This sets one in-memory cache on each view GE makes while the context is open and puts GE's
    constructor back afterwards; tests/python/test_ge.py checks both.
    """

    store: dict[str, bytes] = {}
    compilations = 0  # templates compiled from source (not found in the store), for the tests

    def __enter__(self):
        from jinja2 import BytecodeCache
        from great_expectations.render.view import view

        store = self.store

        class InMemory(BytecodeCache):
            def load_bytecode(self, bucket):
                code = store.get(bucket.key)
                if code is not None:
                    bucket.bytecode_from_string(code)

            def dump_bytecode(self, bucket):
                _CompiledTemplates.compilations += 1
                store[bucket.key] = bucket.bytecode_to_string()

        self._view = view.DefaultJinjaView
        self._original_init = original = self._view.__init__
        cache = InMemory()

        def init_with_cache(instance, *args, **kwargs):
            original(instance, *args, **kwargs)
            instance.env.bytecode_cache = cache

        self._view.__init__ = init_with_cache
        return self

    def __exit__(self, *exc):
        self._view.__init__ = self._original_init
        return False


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _key(entry: dict) -> tuple[str, str]:
    ts = entry.get("ts")
    ts = ts.isoformat(sep=" ") if hasattr(ts, "isoformat") else str(ts)
    return str(entry.get("symbol")), ts


def _summarise(plan: SuitePlan, validation, complete: bool) -> dict:
    expectations = []
    for r in validation.results:
        config = r.expectation_config
        kwargs = {k: v for k, v in config.to_json_dict()["kwargs"].items() if k != "batch_id"}
        result = r.result or {}
        entry = {
            "type": config.type,
            "kwargs": kwargs,
            "rule_id": (config.meta or {}).get("rule_id"),
            "severity": (config.meta or {}).get("severity"),
            "success": bool(r.success),
            "unexpected_count": result.get("unexpected_count"),
            "element_count": result.get("element_count"),
        }
        if r.exception_info and r.exception_info.get("raised_exception"):
            entry["exception"] = r.exception_info.get("exception_message")
        if complete:
            entry["unexpected_keys"] = sorted({_key(e) for e in result.get("unexpected_index_list") or []})
        else:
            entry["partial_unexpected_keys"] = [
                _key(e) for e in result.get("partial_unexpected_index_list") or []
            ]
        expectations.append(entry)
    return {
        "table": plan.table,
        "batch": plan.batch,
        "success": bool(validation.success),
        "expectations": expectations,
    }


def _rule_summary(suites: dict[str, dict], complete: bool) -> dict[str, dict[str, dict]]:
    """Per table and rule: success, and (with COMPLETE) the distinct (symbol, ts) GE flagged across the
    rule's expectations, companion gap suite included."""
    out: dict[str, dict[str, dict]] = {}
    for suite in suites.values():
        for e in suite["expectations"]:
            rule = out.setdefault(suite["table"], {}).setdefault(
                e["rule_id"], {"success": True, "expectations": 0, "keys": set() if complete else None}
            )
            rule["success"] = rule["success"] and e["success"]
            rule["expectations"] += 1
            if complete:
                rule["keys"].update(tuple(k) for k in e["unexpected_keys"])
    for rules in out.values():
        for rule in rules.values():
            keys = rule.pop("keys")
            rule["flagged"] = len(keys) if keys is not None else None
            if keys is not None:
                rule["flagged_keys"] = sorted(keys)
    return out


def run_ge_checkpoint(
    duckdb_path,
    day: str,
    output_root: Path,
    *,
    vars: dict | None = None,
    catalog: Path | str | None = None,
    result_format: str = "SUMMARY",
) -> dict:
    """Validate the day's rows of every catalog table with its generated suite and update the Data Docs.

    ``vars``: dbt var values (e.g. ``{"rule_max_spread_bps": 300}``); a rule's threshold_var found here
    wins over the catalog's threshold_default; other keys are ignored. ``catalog``: a CSV to use instead of
    the ``rule_catalog`` table of the DuckDB file (which falls back to seeds/rule_catalog.csv when absent).
    ``result_format``: GE's; with "COMPLETE" every unexpected row's (symbol, ts) is returned (and stored by
    GE), with "SUMMARY" (the default) at most 20 per expectation.

    Returns a JSON-able dict: ``day``, ``success`` (every suite passed and nothing raised), ``errors``
    (expectations GE could not evaluate), ``warnings`` (e.g. no rows at all for the day), ``data_docs_index``
    (``<output_root>/ge/data_docs/index.html``), ``ge_root``, ``catalog`` (where the rules came from),
    ``thresholds`` (per rule, as used), ``result_format``, ``suites`` and ``rules``:
    ``suites[name]`` = ``{"table", "batch" ("rows" or "r5_gaps"), "rows", "success", "load_s" (DuckDB to
    pandas), "checkpoint_s" (GE validation plus the Data Docs update), "expectations": [{"type", "kwargs",
    "rule_id", "severity", "success", "unexpected_count", "element_count", "unexpected_keys" (COMPLETE) or
    "partial_unexpected_keys"}]}``; ``rules[table][rule_id]`` = ``{"success", "expectations", "flagged",
    "flagged_keys"}`` where flagged is the number of distinct (symbol, ts) GE flagged across the rule's
    expectations, its gap suite included (COMPLETE only, else None).
    """
    import duckdb

    result_format = str(result_format).upper()
    if result_format not in RESULT_FORMATS:
        raise GeSuiteError(f"result_format must be one of {', '.join(RESULT_FORMATS)}, got {result_format!r}")
    complete = result_format == "COMPLETE"
    start, _ = _day_bounds(day)
    duckdb_path = Path(duckdb_path)
    if not duckdb_path.is_file():
        raise GeSuiteError(f"DuckDB file {duckdb_path} does not exist; build the day first (lakeqa run)")
    ge_root = Path(output_root) / "ge"

    _quiet_gx()
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    suites: dict[str, dict] = {}
    # read-only, and closed before returning (also on error); one batch in memory at a time
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("set enable_progress_bar = false")
        if catalog is not None:
            rules, catalog_source = load_catalog(catalog), str(catalog)
        else:
            rules = _catalog_from_duckdb(con)
            catalog_source = f"{duckdb_path.name}:rule_catalog"
            if rules is None:
                rules, catalog_source = load_catalog(CATALOG_PATH), str(CATALOG_PATH)
        plans = build_suites(rules, vars)
        batches = _Batches(con, day)

        context = _context(ge_root)
        datasource = context.data_sources.add_or_update_pandas(name=DATASOURCE_NAME)
        run_id = RunIdentifier(run_name=day, run_time=start.replace(tzinfo=dt.timezone.utc))
        format_config = {"result_format": result_format, "unexpected_index_column_names": list(KEY_COLUMNS)}
        to_render: list = []
        with _CompiledTemplates():
            for name, plan in plans.items():
                t0 = time.perf_counter()
                frame = batches.load(plan)
                load_s = time.perf_counter() - t0
                asset = datasource.add_dataframe_asset(name=name)
                batch_definition = asset.add_batch_definition_whole_dataframe("day")
                suite = context.suites.add_or_update(plan.to_gx_suite())
                validation_definition = context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
                )
                checkpoint = context.checkpoints.add_or_update(
                    gx.Checkpoint(
                        name=f"lakeqa_{name}",
                        validation_definitions=[validation_definition],
                        # no UpdateDataDocsAction: it would rebuild the index and copy the static assets
                        # once per suite; the site is updated once for all of them below
                        actions=[],
                        result_format=format_config,
                    )
                )
                t0 = time.perf_counter()
                result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)
                checkpoint_s = time.perf_counter() - t0
                ((result_id, validation),) = result.run_results.items()
                to_render += [result_id, ExpectationSuiteIdentifier(name=suite.name)]
                summary = _summarise(plan, validation, complete)
                summary.update(rows=len(frame), load_s=round(load_s, 3), checkpoint_s=round(checkpoint_s, 3))
                suites[name] = summary
                del frame, result, validation
            # the day's result pages, the suites' pages and the index, in one pass
            context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=to_render)
    finally:
        con.close()

    errors = [
        f"{name}: {e['type']} ({e['rule_id']}): {e['exception']}"
        for name, s in suites.items()
        for e in s["expectations"]
        if e.get("exception")
    ]
    warnings = []
    if all(s["rows"] == 0 for s in suites.values()):
        warnings.append(f"no rows for {day} in any table of {duckdb_path.name}: is the day built?")
    thresholds = {r.rule_id: r.threshold(vars) for r in rules if r.threshold(vars) is not None}
    return _jsonable({
        "day": day,
        "success": all(s["success"] for s in suites.values()) and not errors,
        "errors": errors,
        "warnings": warnings,
        "data_docs_index": str(ge_root / "data_docs" / "index.html"),
        "ge_root": str(ge_root),
        "catalog": catalog_source,
        "thresholds": thresholds,
        "result_format": result_format,
        "suites": suites,
        "rules": _rule_summary(suites, complete),
    })


# ---------------------------------------------------------------------------------------------- command

EXAMPLE = """\
examples:
  lakeqa ge --day 2024-08-09
  lakeqa ge --day 2024-08-09 --duckdb lakeqa.duckdb --output output
  lakeqa ge --day 2024-08-09 --vars '{"rule_max_spread_bps": 300}' --json

The day must have been built (lakeqa run --day ...) into the DuckDB file first. Data Docs are written to
<output>/ge/data_docs/index.html; GE's own files (suites, results, checkpoints) to <output>/ge/gx/.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ge",
        help="validate a built day with the Great Expectations suites generated from the rule catalog",
        description=(
            "Generate one Great Expectations suite per table from the rule catalog, validate the day's rows"
            " read from the DuckDB file, and update the GE Data Docs."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--day", required=True, help="the day to validate, YYYY-MM-DD (UTC)")
    parser.add_argument(
        "--duckdb",
        default=os.environ.get("DUCKDB_PATH") or "lakeqa.duckdb",
        help="DuckDB file (default: env DUCKDB_PATH, else lakeqa.duckdb)",
    )
    parser.add_argument(
        "--output",
        default=os.environ.get("QA_OUTPUT_ROOT") or "output",
        help="output root; Data Docs go to <output>/ge/data_docs (default: env QA_OUTPUT_ROOT, else output)",
    )
    parser.add_argument("--vars", default=None, help="dbt var values as JSON, e.g. '{\"rule_max_spread_bps\": 300}'")
    parser.add_argument(
        "--result-format", default="SUMMARY", choices=RESULT_FORMATS,
        help="GE result format (COMPLETE lists every unexpected row; default SUMMARY)",
    )
    parser.add_argument(
        "--catalog", default=None,
        help="rule catalog CSV to use (default: the DuckDB file's rule_catalog table, else seeds/rule_catalog.csv)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_main)


def _main(args) -> int:
    from lakeqa.window import resolve_day

    day = resolve_day(args.day)
    dbt_vars = None
    if args.vars:
        try:
            dbt_vars = json.loads(args.vars)
        except json.JSONDecodeError as exc:
            raise GeSuiteError(f"--vars is not JSON: {exc}") from exc
        if not isinstance(dbt_vars, dict):
            raise GeSuiteError("--vars must be a JSON object")
    result = run_ge_checkpoint(
        Path(args.duckdb).resolve(), day, Path(args.output).resolve(), vars=dbt_vars,
        catalog=args.catalog, result_format=args.result_format,
    )
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(f"lakeqa ge: {day}, catalog {result['catalog']}")
        for name, suite in result["suites"].items():
            failed = sorted({e["rule_id"] for e in suite["expectations"] if not e["success"]})
            verdict = "ok" if suite["success"] else "FAILED " + ", ".join(failed)
            print(
                f"  {name:<30} {suite['rows']:>10,} rows  {len(suite['expectations']):>2} expectations"
                f"  {suite['load_s'] + suite['checkpoint_s']:6.2f} s  {verdict}"
            )
        print(f"Data Docs: {result['data_docs_index']}")
    for warning in result["warnings"]:
        print(f"lakeqa ge: warning: {warning}", file=sys.stderr)
    for error in result["errors"]:
        print(f"lakeqa ge: error: {error}", file=sys.stderr)
    return 1 if result["errors"] or result["warnings"] else 0
