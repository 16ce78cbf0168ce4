"""Read one day of QA results from DuckDB into plain Python structures for the report.

Every table is optional: a missing table (detectors disabled, bars not built yet) is recorded as missing
and its section says so. Tables are looked up by name across schemas (names are unique, see DESIGN.md),
and optional columns are used only when present, so the report also reads older or partial databases.
The exception is `anomalies`' `baseline` and `exceeds_background`: the report splits every anomaly count on
them (beyond the background vs the expected background), and no guess stands in for them, so a table
without them is a `SchemaError` (rebuild with the current project).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

SEVERITIES = ("critical", "major", "minor")
VERDICTS = ("FAIL", "REVIEW", "PASS")
VERDICT_RANK = {"FAIL": 0, "REVIEW": 1, "PASS": 2}
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2}
DETECTORS = ("ZSCORE_SPREAD_BP", "ZSCORE_LOG_VOLUME", "ZSCORE_VWAP_DRIFT_BP", "JUMP", "IFOREST")
# the tables every report reads (write_report's `tables_missing`); the completeness ones are optional extras
CORE_TABLES = ("fusion", "violations", "anomalies", "bars_1m", "bars_1s")
COMPLETENESS_TABLES = ("coverage", "int_stream_silences")
# the lanes of the coverage timeline, in this order: the trade stream (trades, or prebuilt bars_1s)
DATASETS = ("trades", "bars_1s", "quotes", "klines_1m")
TRADE_STREAMS = ("trades", "bars_1s")
# completeness rules whose violations are intervals without data, and the lane each cuts a gap in
# ("trade" is the symbol's trade stream): C1 trade gap, C2 quote gap, C3 kline witness (trades the
# exchange saw and the lake lacks), C7 stale book (a frozen quote stream)
GAP_RULES = {"C1": "trade", "C2": "quotes", "C3": "trade", "C7": "quotes"}
# the columns of `anomalies` that say whether a record exceeds the detector's clean-data background
BACKGROUND_COLUMNS = ("baseline", "exceeds_background")
BASELINE_COLD_START = "cold_start"  # the detectors' name (lakeqa.detectors.features.BASELINE_COLD_START)
# why a record is background, most specific first (the SQL in _load_anomalies assigns them): a cold start
# has no learned background to exceed; IsolationForest flags iforest.contamination of every day by design
BACKGROUND_REASONS = ("cold_start", "iforest_share", "clean_day_background")


class SchemaError(Exception):
    """A table the report reads lacks a column it cannot do without; the message names them."""


def is_completeness_rule(rule: str | None) -> bool:
    """C1_TRADE_GAP ... C10_QUARANTINED_FILE: a rule id of the completeness checks."""
    return bool(rule) and re.match(r"^C\d+_", rule) is not None


@dataclass
class Table:
    name: str
    qualified: str
    columns: dict[str, str]  # lower-case name -> DuckDB type

    def has(self, column: str) -> bool:
        return column in self.columns


@dataclass
class ReportData:
    day: dt.date
    mode: str
    tables: dict[str, Table | None]
    symbols: list[str] = field(default_factory=list)
    bars_1m: int | None = None
    bars_1s: int | None = None
    fusion: list[dict[str, Any]] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    violations_by_severity: dict[str, int] = field(default_factory=dict)
    violations_total: int = 0
    violations_by_rule: list[dict[str, Any]] = field(default_factory=list)
    violations_per_symbol: dict[str, int] = field(default_factory=dict)
    anomaly_records: int = 0
    anomalies_expanded: int = 0
    # the same split by `exceeds_background`: anomalies beyond the background (clusters expanded) and the
    # records of the expected background, the latter also per reason (BACKGROUND_REASONS)
    beyond_records: int = 0
    beyond_expanded: int = 0
    background_records: int = 0
    background_expanded: int = 0
    background_by_reason: dict[str, int] = field(default_factory=dict)
    anomalies_by_detector: list[dict[str, Any]] = field(default_factory=list)
    anomalies_per_symbol: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    first_anomalies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    prices: dict[str, list[tuple[dt.datetime, float | None]]] = field(default_factory=dict)
    violation_marks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    violation_spans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    anomaly_marks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    window: tuple[dt.datetime, dt.datetime] | None = None
    # the fusion weights the build used (fusion.metadata.weights): {"schema", "detector", "ai"}
    weights: dict[str, float] | None = None
    # coverage (the mart `coverage`), per symbol and dataset, the window's periods merged into one row
    coverage: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # intervals without data per symbol and dataset (completeness violations, long kline silences)
    coverage_gaps: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def present(self, name: str) -> bool:
        return self.tables.get(name) is not None

    def top_symbols(self, n: int) -> list[dict[str, Any]]:
        """Symbols with at least one anomaly beyond the background, most such (cluster-expanded) anomalies
        first, then by name. A symbol with background records only is not among them: on a clean day
        every busy symbol has hundreds, and ranking by them would put noise at the top."""
        rows = [dict(symbol=s, **v) for s, v in self.anomalies_per_symbol.items() if v["beyond"] > 0]
        rows.sort(key=lambda r: (-r["beyond"], -r["beyond_records"], r["symbol"]))
        return rows[: max(n, 0)]


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def find_tables(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> dict[str, Table | None]:
    """Locate each table or view by name in any schema of the current database (first match wins:
    the `main` schema, then alphabetical)."""
    rows = con.execute(
        """
        select t.table_schema, t.table_name, c.column_name, c.data_type
        from information_schema.tables t
        join information_schema.columns c
          on c.table_catalog = t.table_catalog and c.table_schema = t.table_schema
         and c.table_name = t.table_name
        where t.table_catalog = current_database() and lower(t.table_name) in (select unnest(?))
        order by (t.table_schema <> 'main'), t.table_schema, c.ordinal_position
        """,
        [list(names)],
    ).fetchall()
    found: dict[str, Table | None] = dict.fromkeys(names)
    for schema, table, column, data_type in rows:
        key = table.lower()
        current = found.get(key)
        if current is None:
            found[key] = current = Table(key, f"{_q(schema)}.{_q(table)}", {})
        elif current.qualified != f"{_q(schema)}.{_q(table)}":
            continue
        current.columns[column.lower()] = str(data_type).upper()
    return found


def _day_pred(table: Table) -> str:
    # `date` is the partition column everywhere; fall back to the timestamp's UTC day.
    return "date = ?::DATE" if table.has("date") else "cast(ts as DATE) = ?::DATE"


def _col(table: Table, column: str, default: str = "NULL") -> str:
    return _q(column) if table.has(column) else default


def _expanded_sql(table: Table) -> str:
    """How many anomalies one record stands for: its cluster's count (>= 1), else 1."""
    if not table.has("cluster"):
        return "1"
    if table.columns["cluster"].startswith("STRUCT"):
        return (
            "case when cluster is null then 1 "
            "else greatest(coalesce(try_cast(cluster.count as BIGINT), 1), 1) end"
        )
    c = "cast(cluster as VARCHAR)"
    return (
        f"case when cluster is null then 1 when json_valid({c}) then "
        f"greatest(coalesce(try_cast(json_extract_string({c}, '$.count') as BIGINT), 1), 1) else 1 end"
    )


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _parse_json(text: Any) -> Any:
    if text is None:
        return None
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def load(
    con: duckdb.DuckDBPyConnection, day: dt.date, mode: str = "daily", *, per_symbol_cap: int = 5
) -> ReportData:
    tables = find_tables(con, CORE_TABLES + COMPLETENESS_TABLES)
    data = ReportData(day=day, mode=mode, tables=tables)
    d = day.isoformat()
    symbols: set[str] = set()

    # Fusion: one row per symbol (and hour, in hourly mode).
    fusion = tables["fusion"]
    if fusion is not None:
        cols = [
            "ts",
            "symbol",
            "verdict",
            "score",
            "schema_score",
            "detector_score",
            "ai_confidence",
            "n_bars",
            "n_violations_critical",
            "n_violations_major",
            "n_violations_minor",
            "n_anomalies",
            "reason",
        ]
        select = ", ".join(f"{_col(fusion, c)} as {_q(c)}" for c in cols)
        where = _day_pred(fusion)
        params: list[Any] = [d]
        if fusion.has("mode"):
            where += " and mode = ?"
            params.append(mode)
        rows = con.execute(f"select {select} from {fusion.qualified} where {where}", params).fetchall()
        data.fusion = [dict(zip(cols, r, strict=True)) for r in rows]
        for r in data.fusion:
            for k in ("score", "schema_score", "detector_score", "ai_confidence"):
                r[k] = _num(r[k])
            r["verdict"] = (r["verdict"] or "").upper() or "UNKNOWN"
        data.fusion.sort(
            key=lambda r: (
                VERDICT_RANK.get(r["verdict"], -1),
                r["score"] if r["score"] is not None else -1.0,
                r["symbol"] or "",
                r["ts"] or dt.datetime.min,
            )
        )
        data.verdicts = dict.fromkeys(VERDICTS, 0)
        for r in data.fusion:
            data.verdicts[r["verdict"]] = data.verdicts.get(r["verdict"], 0) + 1
        symbols.update(r["symbol"] for r in data.fusion if r["symbol"] is not None)
        if fusion.has("metadata"):
            found = con.execute(
                f"select distinct json_extract_string(metadata, '$.weights') from {fusion.qualified}"
                f" where {where} and metadata is not null",
                params,
            ).fetchall()
            if len(found) == 1 and found[0][0]:
                data.weights = {k: _num(v) for k, v in json.loads(found[0][0]).items()}

    # The chart window: the day, or in hourly mode the hours fusion covers.
    day_start = dt.datetime(day.year, day.month, day.day)
    data.window = (day_start, day_start + dt.timedelta(days=1))
    if mode == "hourly":
        hours = [r["ts"] for r in data.fusion if isinstance(r["ts"], dt.datetime)]
        if hours:
            data.window = (min(hours), max(hours) + dt.timedelta(hours=1))

    # Bars: counts, and 1-minute closes for the price charts.
    for name in ("bars_1m", "bars_1s"):
        table = tables[name]
        if table is not None:
            (count,) = con.execute(
                f"select count(*) from {table.qualified} where {_day_pred(table)}", [d]
            ).fetchone()
            setattr(data, name, int(count))
    bars = tables["bars_1m"]
    if bars is not None and bars.has("close"):
        rows = con.execute(
            f"""select symbol, ts, close from {bars.qualified}
                where {_day_pred(bars)} and ts >= ? and ts < ? order by symbol, ts""",
            [d, *data.window],
        ).fetchall()
        for symbol, ts, close in rows:
            data.prices.setdefault(symbol, []).append((ts, _num(close)))
        symbols.update(data.prices)

    _load_violations(con, data, d, per_symbol_cap)
    _load_anomalies(con, data, d, per_symbol_cap)
    _load_coverage(con, data, d)
    symbols.update(data.violations_per_symbol)
    symbols.update(data.coverage)
    symbols.update(data.anomalies_per_symbol)
    data.symbols = sorted(s for s in symbols if s is not None)
    return data


def _load_violations(con: duckdb.DuckDBPyConnection, data: ReportData, d: str, cap: int) -> None:
    table = data.tables["violations"]
    data.violations_by_severity = dict.fromkeys(SEVERITIES, 0)
    if table is None:
        return
    src = table.qualified
    ts_end = _col(table, "ts_end")
    base = f"""(select coalesce(symbol, '(no symbol)') as symbol, ts, {ts_end} as ts_end, rule,
                lower(coalesce(severity, 'unknown')) as severity, {_col(table, "detail")} as detail,
                {_col(table, "source_table")} as source_table
                from {src} where {_day_pred(table)}) v"""
    for severity, n in con.execute(f"select severity, count(*) from {base} group by 1", [d]).fetchall():
        data.violations_by_severity[severity] = int(n)
    data.violations_total = sum(data.violations_by_severity.values())

    rows = con.execute(
        f"""select rule, string_agg(distinct severity, ', ' order by severity) as severities,
                   min(case severity when 'critical' then 0 when 'major' then 1 when 'minor' then 2 else 3 end),
                   count(*), count(distinct symbol), list(distinct symbol order by symbol),
                   min(ts), max(coalesce(greatest(ts_end, ts), ts))
            from {base} group by rule
            order by case when regexp_matches(coalesce(rule, ''), '^C[0-9]+_') then 0 else 1 end, 3, 4 desc, 1""",
        [d],
    ).fetchall()
    data.violations_by_rule = [
        dict(
            rule=r[0],
            severity=r[1],
            count=int(r[3]),
            n_symbols=int(r[4]),
            symbols=list(r[5]),
            first=r[6],
            last=r[7],
        )
        for r in rows
    ]

    data.violations_per_symbol = {
        s: int(n) for s, n in con.execute(f"select symbol, count(*) from {base} group by 1", [d]).fetchall()
    }
    rows = con.execute(
        f"""select symbol, ts, ts_end, rule, severity, detail, source_table from (
                select *, row_number() over (partition by symbol order by
                    case severity when 'critical' then 0 when 'major' then 1 when 'minor' then 2 else 3 end,
                    ts, rule, detail) as rn from {base})
            where rn <= ? order by symbol, rn""",
        [d, cap],
    ).fetchall()
    for symbol, ts, end, rule, severity, detail, source in rows:
        data.first_violations.setdefault(symbol, []).append(
            dict(ts=ts, ts_end=end, rule=rule, severity=severity, detail=detail, source_table=source)
        )

    # Chart marks: one per symbol, minute and severity (with the rules and count), plus spans for gaps.
    lo, hi = data.window
    rows = con.execute(
        f"""select symbol, date_trunc('minute', ts) as m, severity, count(*),
                   string_agg(distinct rule, ', ' order by rule), min(ts)
            from {base} where ts >= ? and ts < ? group by all order by 1, 2""",
        [d, lo, hi],
    ).fetchall()
    for symbol, minute, severity, n, rules, first in rows:
        data.violation_marks.setdefault(symbol, []).append(
            dict(minute=minute, severity=severity, count=int(n), rules=rules, ts=first)
        )
    if table.has("ts_end"):
        rows = con.execute(
            f"""select symbol, ts, ts_end, rule, severity from (
                    select *, row_number() over (partition by symbol order by ts) as rn from {base}
                    where ts_end is not null and ts_end > ts and ts < ? and ts_end > ?)
                where rn <= 500 order by symbol, ts""",
            [d, hi, lo],
        ).fetchall()
        for symbol, start, end, rule, severity in rows:
            data.violation_spans.setdefault(symbol, []).append(
                dict(start=start, end=end, rule=rule, severity=severity)
            )


def _load_anomalies(con: duckdb.DuckDBPyConnection, data: ReportData, d: str, cap: int) -> None:
    """Counts split by `exceeds_background` (beyond the background vs the expected background, each
    cluster-expanded and in records), the first records of each symbol (beyond ones first), and chart
    marks for the beyond ones only: the background is counted, never drawn as alarms."""
    table = data.tables["anomalies"]
    if table is None:
        return
    lacking = [c for c in BACKGROUND_COLUMNS if not table.has(c)]
    if lacking:
        raise SchemaError(
            f"table {table.qualified} lacks {', '.join(lacking)}: built by an older lakeqa? "
            "Rebuild the day (dbt build) so that every record says whether it exceeds the background"
        )
    # A NULL exceeds_background is not known to exceed anything: background, like a cold start.
    base = f"""(select coalesce(symbol, '(no symbol)') as symbol, ts,
                coalesce(detector, '(no detector)') as detector, {_col(table, "label")} as label,
                {_col(table, "rationale")} as rationale, {_col(table, "confidence")} as confidence,
                {_col(table, "score")} as score, {_col(table, "cluster")} as cluster,
                {_expanded_sql(table)} as n, baseline,
                coalesce(exceeds_background, false) as is_beyond,
                case when coalesce(exceeds_background, false) then null
                     when baseline = ? then 'cold_start'
                     when detector = 'IFOREST' then 'iforest_share'
                     else 'clean_day_background' end as background_reason
                from {table.qualified} where {_day_pred(table)}) a"""
    base_params = [BASELINE_COLD_START, d]

    beyond_n = "coalesce(sum(n) filter (where is_beyond), 0)"
    beyond_records = "count(*) filter (where is_beyond)"
    background_n = "coalesce(sum(n) filter (where not is_beyond), 0)"
    background_records = "count(*) filter (where not is_beyond)"
    counts = f"{beyond_n}, {beyond_records}, {background_n}, {background_records}"
    records, expanded, *split = con.execute(
        f"select count(*), coalesce(sum(n), 0), {counts} from {base}", base_params
    ).fetchone()
    data.anomaly_records, data.anomalies_expanded = int(records), int(expanded)
    data.beyond_expanded, data.beyond_records, data.background_expanded, data.background_records = (
        int(x) for x in split
    )
    rows = con.execute(
        f"select background_reason, count(*) from {base} where not is_beyond group by 1", base_params
    ).fetchall()
    found = {reason: int(n) for reason, n in rows}
    data.background_by_reason = {r: found[r] for r in BACKGROUND_REASONS if found.get(r)}
    rows = con.execute(
        f"select symbol, background_reason, count(*) from {base} where not is_beyond group by 1, 2",
        base_params,
    ).fetchall()
    reasons_of: dict[str, dict[str, int]] = {}
    for symbol, reason, n in rows:
        reasons_of.setdefault(symbol, {})[reason] = int(n)

    # first/last: of the records beyond the background (the background's span says nothing: all day)
    rows = con.execute(
        f"""select detector, count(*), sum(n), count(distinct symbol), count(*) filter (where n > 1),
                   {counts}, count(*) filter (where background_reason = 'cold_start'),
                   min(ts) filter (where is_beyond), max(ts) filter (where is_beyond)
            from {base} group by detector order by 6 desc, 9 desc, 1""",
        base_params,
    ).fetchall()
    data.anomalies_by_detector = [
        dict(
            detector=r[0],
            records=int(r[1]),
            expanded=int(r[2]),
            n_symbols=int(r[3]),
            clustered_records=int(r[4]),
            beyond=int(r[5]),
            beyond_records=int(r[6]),
            background=int(r[7]),
            background_records=int(r[8]),
            cold_start_records=int(r[9]),
            first=r[10],
            last=r[11],
        )
        for r in rows
    ]

    rows = con.execute(
        f"""select symbol, detector, count(*), sum(n), {counts} from {base}
            group by 1, 2 order by 1, 5 desc, 8 desc, 2""",
        base_params,
    ).fetchall()
    for symbol, detector, n_rec, n_exp, n_beyond, n_beyond_rec, n_bg, n_bg_rec in rows:
        entry = data.anomalies_per_symbol.setdefault(
            symbol,
            dict(
                records=0, expanded=0, beyond=0, beyond_records=0, background=0, background_records=0,
                by_detector={}, background_by_detector={},
                background_by_reason={r: reasons_of[symbol][r] for r in BACKGROUND_REASONS
                                      if r in reasons_of.get(symbol, {})},
            ),
        )  # fmt: skip
        entry["records"] += int(n_rec)
        entry["expanded"] += int(n_exp)
        entry["beyond"] += int(n_beyond)
        entry["beyond_records"] += int(n_beyond_rec)
        entry["background"] += int(n_bg)
        entry["background_records"] += int(n_bg_rec)
        if n_beyond_rec:
            entry["by_detector"][detector] = int(n_beyond)
        if n_bg_rec:
            entry["background_by_detector"][detector] = int(n_bg_rec)

    # Beyond the background first, in time order, then (while the cap leaves room) background records.
    rows = con.execute(
        f"""select symbol, ts, detector, label, rationale, confidence, score, cluster, n, baseline, is_beyond
            from (select *, row_number() over (partition by symbol order by not is_beyond, ts, detector)
                  as rn from {base})
            where rn <= ? order by symbol, rn""",
        [*base_params, cap],
    ).fetchall()
    for symbol, ts, detector, label, rationale, confidence, score, cluster, n, baseline, beyond in rows:
        info = _parse_json(cluster)
        data.first_anomalies.setdefault(symbol, []).append(
            dict(
                ts=ts,
                detector=detector,
                label=label,
                rationale=rationale,
                confidence=_num(confidence),
                score=_num(score),
                n=int(n),
                cluster=info if isinstance(info, dict) else None,
                baseline=baseline,
                is_beyond=bool(beyond),
            )
        )

    lo, hi = data.window
    rows = con.execute(
        f"""select symbol, date_trunc('minute', ts) as m, detector, count(*), sum(n), min(ts)
            from {base} where is_beyond and ts >= ? and ts < ? group by all order by 1, 2""",
        [*base_params, lo, hi],
    ).fetchall()
    for symbol, minute, detector, n_rec, n_exp, first in rows:
        data.anomaly_marks.setdefault(symbol, []).append(
            dict(minute=minute, detector=detector, records=int(n_rec), expanded=int(n_exp), ts=first)
        )


def _load_coverage(con: duckdb.DuckDBPyConnection, data: ReportData, d: str) -> None:
    """Per symbol and dataset, what arrived in the window (the mart `coverage`; in hourly mode the hours
    of the window merged), and the intervals without data: the completeness violations C1/C2/C3/C7
    (ts..ts_end, clipped to the window) and the silences of the kline stream longer than
    completeness.kline_witness_max_minutes (no completeness rule measures those on their own)."""
    table = data.tables.get("coverage")
    if table is None or not data.window:
        return
    lo, hi = data.window
    cols = [
        "ts", "period_end", "symbol", "dataset", "n_rows", "first_ts", "last_ts", "longest_silence_s",
        "longest_silence_start", "longest_silence_end", "covered_share", "hist_median_rows",
        "hist_days_in_lake", "hist_days_measured",
    ]  # fmt: skip
    select = ", ".join(f"{_col(table, c)} as {_q(c)}" for c in cols)
    where = f"{_day_pred(table)} and ts >= ? and ts < ?"
    params: list[Any] = [d, lo, hi]
    if table.has("mode"):
        where += " and mode = ?"
        params.append(data.mode)
    rows = con.execute(
        f"select {select} from {table.qualified} where {where} order by symbol, dataset, ts", params
    ).fetchall()
    for row in rows:
        r = dict(zip(cols, row, strict=True))
        if r["symbol"] is None or r["dataset"] is None:
            continue
        start = r["ts"] or lo
        end = r["period_end"] or min(start + dt.timedelta(days=1), hi)
        seconds = max((end - start).total_seconds(), 0.0)
        entry = data.coverage.setdefault(r["symbol"], {}).get(r["dataset"])
        if entry is None:
            entry = data.coverage[r["symbol"]][r["dataset"]] = dict(
                n_rows=0, first_ts=None, last_ts=None, silence_s=None, silence_start=None, silence_end=None,
                covered_s=0.0, period_s=0.0, hist_median_rows=0.0, hist_known=True, hist_days_in_lake=0,
                hist_days_measured=None,
            )  # fmt: skip
        entry["n_rows"] += int(r["n_rows"] or 0)
        for key, pick in (("first_ts", min), ("last_ts", max)):
            if r[key] is not None:
                entry[key] = r[key] if entry[key] is None else pick(entry[key], r[key])
        silence = _num(r["longest_silence_s"])
        if silence is not None and (entry["silence_s"] is None or silence > entry["silence_s"]):
            entry["silence_s"] = silence
            entry["silence_start"], entry["silence_end"] = (
                r["longest_silence_start"],
                r["longest_silence_end"],
            )
        share = _num(r["covered_share"])
        entry["covered_s"] += (share or 0.0) * seconds
        entry["period_s"] += seconds
        median = _num(r["hist_median_rows"])
        if median is None:
            entry["hist_known"] = False
        else:
            entry["hist_median_rows"] += median
        entry["hist_days_in_lake"] = max(entry["hist_days_in_lake"], int(r["hist_days_in_lake"] or 0))
        if r["hist_days_measured"] is not None:
            measured = int(r["hist_days_measured"])
            entry["hist_days_measured"] = (
                measured
                if entry["hist_days_measured"] is None
                else min(entry["hist_days_measured"], measured)
            )
    for datasets in data.coverage.values():
        for entry in datasets.values():
            entry["covered_share"] = entry["covered_s"] / entry["period_s"] if entry["period_s"] else None
            if not entry["hist_known"]:
                entry["hist_median_rows"] = None

    def add_gap(symbol: str, dataset: str, start: Any, end: Any, rule: str, detail: Any) -> None:
        if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
            return
        start, end = max(start, lo), min(end, hi)
        if end <= start:
            return
        gaps = data.coverage_gaps.setdefault(symbol, {}).setdefault(dataset, [])
        if len(gaps) < 200:
            gaps.append(dict(start=start, end=end, rule=rule, detail=detail))

    violations = data.tables.get("violations")
    if violations is not None and violations.has("ts_end"):
        rows = con.execute(
            f"""select symbol, ts, ts_end, rule, {_col(violations, "detail")} from {violations.qualified}
                where {_day_pred(violations)} and symbol is not null and ts < ? and ts_end > ?
                  and regexp_extract(rule, '^(C[0-9]+)_', 1) in (select unnest(?))
                order by symbol, ts, rule""",
            [d, hi, lo, list(GAP_RULES)],
        ).fetchall()
        for symbol, start, end, rule, detail in rows:
            lane = GAP_RULES[rule.split("_", 1)[0]]
            if lane == "trade":
                have = data.coverage.get(symbol, {})
                lane = next((s for s in TRADE_STREAMS if s in have), "trades")
            add_gap(symbol, lane, start, end, rule, detail)

    silences = data.tables.get("int_stream_silences")
    if silences is not None and all(
        silences.has(c) for c in ("stream", "symbol", "silence_start", "silence_end", "silence_s")
    ):
        from lakeqa.settings import project_default

        limit_s = 60.0 * float(project_default("completeness.kline_witness_max_minutes"))
        rows = con.execute(
            f"""select symbol, silence_start, silence_end, silence_s from {silences.qualified}
                where stream = 'klines_1m' and silence_s > ? and silence_start < ? and silence_end > ?
                order by symbol, silence_start""",
            [limit_s, hi, lo],
        ).fetchall()
        for symbol, start, end, seconds in rows:
            detail = f"no klines for {seconds:,.0f} s (more than {limit_s:,.0f} s)"
            add_gap(symbol, "klines_1m", start, end, "kline silence", detail)
