"""The daily QA report (lakeqa.report): content, numbers, time zones, escaping, atomic writes, CLI.

A small DuckDB is built by hand: 5 symbols on a summer day (2024-08-09, London on BST) and one on a
winter day (2024-01-15, London on GMT). Its numbers, which the tests check:

- violations on 2024-08-09: 6 (critical 2, major 2, minor 2); one more on 2024-01-15 only.
- anomalies on 2024-08-09: 9 records, 16 anomalies once clusters are expanded (BTCUSDT's JUMP cluster
  counts 3, XRPUSDT's counts 6). Per symbol (expanded): XRPUSDT 6, BTCUSDT 5, ETHUSDT 4, SOLUSDT 1.
  Beyond the background: 12 anomalies from 5 records (XRPUSDT 6, BTCUSDT 5, ETHUSDT 1: its 01:00 IFOREST
  record); background: 4 records (ETHUSDT's other three IFOREST records, IsolationForest's expected
  share, and SOLUSDT's cold-start ZSCORE_LOG_VOLUME record).
- fusion on 2024-08-09 (daily): FAIL 2 (DOGEUSDT with no data, BTCUSDT), REVIEW 1, PASS 2; plus one
  hourly row that a daily report must ignore.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from lakeqa import cli, settings
from lakeqa.report import command, render
from lakeqa.report import write_report

SUMMER = "2024-08-09"
WINTER = "2024-01-15"
SCRIPT = "<script>alert('pwn')</script>"

FUSION_DDL = """create table fusion (ts TIMESTAMP, date DATE, symbol VARCHAR, mode VARCHAR, verdict VARCHAR,
    score DOUBLE, schema_score DOUBLE, detector_score DOUBLE, ai_confidence DOUBLE, n_bars BIGINT,
    n_violations_critical BIGINT, n_violations_major BIGINT, n_violations_minor BIGINT, n_anomalies BIGINT,
    reason VARCHAR, metadata VARCHAR)"""
VIOLATIONS_DDL = """create table violations (symbol VARCHAR, ts TIMESTAMP, ts_end TIMESTAMP, date DATE,
    rule VARCHAR, severity VARCHAR, source_table VARCHAR, detail VARCHAR, row_sample VARCHAR)"""
ANOMALIES_DDL = """create table anomalies (symbol VARCHAR, ts TIMESTAMP, date DATE, detector VARCHAR,
    label VARCHAR, rationale VARCHAR, confidence DOUBLE, score DOUBLE, features VARCHAR, cluster VARCHAR,
    baseline VARCHAR, exceeds_background BOOLEAN)"""
BARS_COLUMNS = """symbol VARCHAR, ts TIMESTAMP, date DATE, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE,
    volume_base DOUBLE, volume_quote DOUBLE, trade_count BIGINT, vwap DOUBLE, bid DOUBLE, ask DOUBLE,
    spread DOUBLE, spread_bps DOUBLE"""

SUMMER_SYMBOLS = ["BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]


def t(day: str, clock: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day} {clock}")


def cluster(count: int, start: str, end: str) -> str:
    return json.dumps({"count": count, "start_ts": start, "end_ts": end, "max_abs_z": 7.25})


def build_db(path: Path, *, anomalies: bool = True, bars_1s: bool = True) -> Path:
    con = duckdb.connect(str(path))
    con.execute(FUSION_DDL)
    fusion = [
        # ts, date, symbol, mode, verdict, score, schema, detector, ai, n_bars, crit, major, minor, anomalies, reason
        (SUMMER, "BTCUSDT", "daily", "FAIL", 0.41, 0.3, 0.8, 0.7, 1440, 2, 0, 0, 5,
         "2 critical violations (R4_NO_NAN, R5_CONTINUITY)"),
        (SUMMER, "DOGEUSDT", "daily", "FAIL", 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0,
         "no data: expected from symbol_settings but the lake has no trades"),
        (SUMMER, "ETHUSDT", "daily", "REVIEW", 0.78, 0.8, 0.7, 0.9, 1440, 0, 2, 1, 4,
         "2 major violations (R3_ASK_GE_BID | crossed)"),
        (SUMMER, "SOLUSDT", "daily", "PASS", 0.95, 1.0, 0.8, 0.8, 1440, 0, 0, 1, 1, "clean"),
        (SUMMER, "XRPUSDT", "daily", "PASS", 0.99, 1.0, 0.95, 1.0, 1440, 0, 0, 0, 6, "clean"),
        (WINTER, "BTCUSDT", "daily", "FAIL", 0.5, 0.4, 1.0, 1.0, 1440, 1, 0, 0, 0, "1 critical violation (R1_OHLC_ORDER)"),
    ]  # fmt: skip
    con.executemany(
        "insert into fusion values (?::TIMESTAMP, ?::DATE, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')",
        [(r[0], r[0], *r[1:]) for r in fusion],
    )
    # An hourly row on the same day: daily reports ignore it.
    con.execute(
        "insert into fusion values (?, ?::DATE, 'BTCUSDT', 'hourly', 'REVIEW', 0.8, 0.8, 0.8, 0.8, 60, 0, 1, 0, 0,"
        " 'hourly window', '{}')",
        [t(SUMMER, "13:00:00"), SUMMER],
    )

    con.execute(VIOLATIONS_DDL)
    violations = [
        ("BTCUSDT", t(SUMMER, "13:04:05"), None, SUMMER, "R4_NO_NAN", "critical", "bars_1s", f"close is NaN {SCRIPT}"),
        ("BTCUSDT", t(SUMMER, "02:00:00"), t(SUMMER, "02:05:00"), SUMMER, "R5_CONTINUITY", "critical", "bars_1s",
         "gap of 300 s (threshold 60 s)"),
        ("ETHUSDT", t(SUMMER, "10:00:00"), None, SUMMER, "R3_ASK_GE_BID", "major", "bars_1s", "ask 2600.1 < bid 2600.2"),
        ("ETHUSDT", t(SUMMER, "10:00:07"), None, SUMMER, "R3_ASK_GE_BID", "major", "bars_1s", "ask 2600.0 < bid 2600.2"),
        ("ETHUSDT", t(SUMMER, "23:30:00"), None, SUMMER, "R7_KLINE_PARITY", "minor", "compare_our_vs_kline_1m",
         "volume differs | by 0.5%"),
        ("SOLUSDT", t(SUMMER, "08:15:00"), None, SUMMER, "R7_KLINE_PARITY", "minor", "compare_our_vs_kline_1m",
         "trade_count 10 vs 11"),
        ("BTCUSDT", t(WINTER, "12:00:00"), None, WINTER, "R1_OHLC_ORDER", "critical", "bars_1s", "low above open"),
    ]  # fmt: skip
    con.executemany("insert into violations values (?, ?, ?, ?::DATE, ?, ?, ?, ?, '{}')", violations)

    if anomalies:
        con.execute(ANOMALIES_DDL)
        rows = [
            # symbol, ts, detector, label, rationale, confidence, score, cluster, baseline, exceeds_background
            ("BTCUSDT", t(SUMMER, "13:04:06"), "JUMP", "price jump", "return 7.3 sigma", 0.9, 7.3,
             cluster(3, f"{SUMMER}T13:04:06", f"{SUMMER}T13:04:09"), "history", True),
            ("BTCUSDT", t(SUMMER, "09:00:00"), "ZSCORE_SPREAD_BP", "wide spread", "spread z 5.5", 0.6, 5.5, None,
             "history", True),
            ("BTCUSDT", t(SUMMER, "09:30:00"), "ZSCORE_SPREAD_BP", "wide spread", "spread z 5.2", 0.55, 5.2, None,
             "history", True),
            ("ETHUSDT", t(SUMMER, "01:00:00"), "IFOREST", "outlier", "isolation score 0.71", 0.7, 0.71, None,
             "history", True),
            ("ETHUSDT", t(SUMMER, "02:00:00"), "IFOREST", "outlier", "isolation score 0.72", 0.7, 0.72, None,
             "history", False),
            ("ETHUSDT", t(SUMMER, "03:00:00"), "IFOREST", "outlier", "isolation score 0.73", 0.7, 0.73, None,
             "history", False),
            ("ETHUSDT", t(SUMMER, "04:00:00"), "IFOREST", "outlier", "isolation score 0.74", 0.7, 0.74, None,
             "history", False),
            ("SOLUSDT", t(SUMMER, "05:00:00"), "ZSCORE_LOG_VOLUME", "volume burst", "log volume z 6.0", 0.8, 6.0,
             None, "cold_start", False),
            ("XRPUSDT", t(SUMMER, "20:00:00"), "JUMP", "price jump", "return 9.1 sigma", 0.95, 9.1,
             cluster(6, f"{SUMMER}T20:00:00", f"{SUMMER}T20:00:25"), "history", True),
            ("XRPUSDT", t(WINTER, "20:00:00"), "JUMP", "price jump", "winter", 0.95, 9.1, cluster(50, "x", "y"),
             "history", True),
        ]  # fmt: skip
        con.executemany(
            "insert into anomalies values (?, ?, cast(? as DATE), ?, ?, ?, ?, ?, '{}', ?, ?, ?)",
            [(r[0], r[1], r[1].date(), *r[2:]) for r in rows],
        )

    con.execute(f"create table bars_1m ({BARS_COLUMNS})")
    for i, symbol in enumerate(["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]):
        con.execute(
            f"""insert into bars_1m select ?, ts, ts::DATE, p, p * 1.001, p * 0.999,
                    case when ts = TIMESTAMP '{SUMMER} 13:04:00' and ? = 'BTCUSDT' then 'NaN'::DOUBLE else p end,
                    1, p, 10, p, p * 0.9999, p * 1.0001, p * 0.0002, 2
                from (select ts, ? * (1 + 0.01 * sin(epoch(ts) / 3000.0)) as p
                      from range(TIMESTAMP '{SUMMER}', TIMESTAMP '{SUMMER}' + INTERVAL 1 DAY, INTERVAL 1 MINUTE)
                           r(ts))""",
            [symbol, symbol, 100.0 * (i + 1)],
        )
    con.execute(
        f"""insert into bars_1m select 'BTCUSDT', ts, ts::DATE, 50, 51, 49, 50, 1, 50, 1, 50, 49.9, 50.1, .2, 40
            from range(TIMESTAMP '{WINTER}', TIMESTAMP '{WINTER}' + INTERVAL 1 HOUR, INTERVAL 1 MINUTE) r(ts)"""
    )
    if bars_1s:
        con.execute(f"create table bars_1s ({BARS_COLUMNS})")
        con.execute(
            f"""insert into bars_1s select 'BTCUSDT', ts, ts::DATE, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0
                from range(TIMESTAMP '{SUMMER}', TIMESTAMP '{SUMMER}' + INTERVAL 120 SECOND, INTERVAL 1 SECOND)
                r(ts)"""
        )
    con.close()
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: write_report opens it read-only, so tests cannot change it."""
    return build_db(tmp_path_factory.mktemp("db") / "qa.duckdb")


@pytest.fixture()
def report(db: Path, tmp_path: Path) -> dict:
    result = write_report(db, SUMMER, tmp_path / "out")
    result["md"] = Path(result["md_path"]).read_text(encoding="utf-8")
    result["html"] = Path(result["html_path"]).read_text(encoding="utf-8")
    return result


def section(md: str, title: str) -> str:
    """The markdown between `## title` and the next `## ` heading."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, re.S | re.M)
    assert m, f"no section {title!r}"
    return m.group(1)


def table_rows(text: str) -> list[list[str]]:
    """Cells of every GFM table row in `text` (header and separator excluded)."""
    rows = []
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    for ln in lines[2:]:
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]])
    return rows


# --------------------------------------------------------------------------------------------------------


def test_paths_and_summary_numbers(report: dict, tmp_path: Path) -> None:
    qa = tmp_path / "out" / "reports" / "qa"
    assert report["md_path"] == qa / f"{SUMMER}_qa_report.md"
    assert report["html_path"] == qa / f"{SUMMER}_qa_report.html"
    s = report["summary"]
    assert s["symbols"] == 5
    assert s["bars_1m"] == 4 * 1440 and s["bars_1s"] == 120
    assert s["violations"] == {"critical": 2, "major": 2, "minor": 2, "total": 6}
    assert (s["anomaly_records"], s["anomalies_expanded"]) == (9, 16)
    assert s["verdicts"] == {"FAIL": 2, "REVIEW": 1, "PASS": 2}
    # ranked by anomalies beyond the background: SOLUSDT's only record is a cold start (background)
    assert s["top_symbols"] == [("XRPUSDT", 6), ("BTCUSDT", 5), ("ETHUSDT", 1)]
    assert (s["anomalies_beyond_background"], s["background_records"]) == (12, 4)
    assert s["tables_missing"] == []


def test_markdown_summary_section(report: dict) -> None:
    md = report["md"]
    assert md.startswith(f"# lakeqa QA report — {SUMMER} (daily)\n")
    summary = dict(table_rows(section(md, "Summary")))
    assert summary["Symbols"].startswith("5 (1 without data: DOGEUSDT)")
    assert summary["Bars (1m)"] == "5,760"
    assert summary["Bars (1s)"] == "120"
    assert summary["Violations"] == "6 (critical 2, major 2, minor 2)"
    assert summary["Anomalies"] == (
        "12 anomalies beyond the background (from 5 records), 4 background records (IsolationForest's "
        "expected share 3, cold start 1); 16 anomalies from 9 records in all (clusters expanded)"
    )
    assert summary["Verdicts"].startswith("FAIL 2, REVIEW 1, PASS 2")


def test_fusion_table_worst_first(report: dict) -> None:
    rows = table_rows(section(report["md"], "Fusion by symbol"))
    assert [r[0] for r in rows] == ["DOGEUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    assert [r[1] for r in rows] == ["FAIL", "FAIL", "REVIEW", "PASS", "PASS"]
    doge = rows[0]
    assert doge[2] == "0.000" and doge[-1].startswith("no data: expected from symbol_settings")
    btc = rows[1]
    assert btc[2:7] == ["0.410", "0.300", "0.800", "0.700", "1,440"]
    assert btc[7:11] == ["2", "0", "0", "5"]


def test_violations_by_rule(report: dict) -> None:
    rows = {r[0]: r for r in table_rows(section(report["md"], "Violations by rule"))}
    assert set(rows) == {"R4_NO_NAN", "R5_CONTINUITY", "R3_ASK_GE_BID", "R7_KLINE_PARITY"}
    assert rows["R3_ASK_GE_BID"][1:4] == ["major", "2", "1: ETHUSDT"]
    assert rows["R7_KLINE_PARITY"][1:4] == ["minor", "2", "2: ETHUSDT, SOLUSDT"]
    # A gap's last time is its end.
    assert rows["R5_CONTINUITY"][4] == "2024-08-09 02:00:00 UTC (03:00:00 BST)"
    assert rows["R5_CONTINUITY"][5] == "2024-08-09 02:05:00 UTC (03:05:00 BST)"
    # Critical rules first.
    assert list(rows)[:2] == ["R4_NO_NAN", "R5_CONTINUITY"]


def test_anomalies_by_detector_expand_clusters(report: dict) -> None:
    text = section(report["md"], "Anomalies by detector")
    assert "16 anomalies from 9 records in all" in text
    rows = table_rows(text)
    # most anomalies beyond the background first
    assert [r[0] for r in rows] == ["JUMP", "ZSCORE_SPREAD_BP", "IFOREST", "ZSCORE_LOG_VOLUME", "total"]
    rows = {r[0]: r for r in rows}
    # detector | beyond the background (expanded) | background records | of which cold start | all records
    # | clustered records | symbols | first beyond | last beyond
    assert rows["JUMP"][1:7] == ["9", "0", "0", "2", "2", "2"]
    assert rows["IFOREST"][1:7] == ["1", "3", "0", "4", "0", "1"]
    assert rows["ZSCORE_LOG_VOLUME"][1:5] == ["0", "1", "1", "1"]
    assert rows["ZSCORE_LOG_VOLUME"][7:9] == ["—", "—"]  # nothing beyond: no span
    assert rows["IFOREST"][7] == rows["IFOREST"][8] == "2024-08-09 01:00:00 UTC (02:00:00 BST)"
    assert rows["total"][1:5] == ["12", "4", "1", "9"]
    assert "16 anomalies from 9 records in all" in report["html"]


def test_top_n_symbols(db: Path, tmp_path: Path, report: dict) -> None:
    text = section(report["md"], "Top 10 symbols by anomalies")
    rows = table_rows(text)
    # symbol | beyond the background (expanded) | background records: SOLUSDT has background only
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("XRPUSDT", "6", "0"),
        ("BTCUSDT", "5", "0"),
        ("ETHUSDT", "1", "3"),
    ]
    assert rows[1][4] == "JUMP 3, ZSCORE_SPREAD_BP 2" and rows[1][5] == "FAIL"
    assert rows[2][4] == "IFOREST 1"
    assert "Background records only: SOLUSDT." in text

    result = write_report(db, SUMMER, tmp_path / "top2", top_n=2)
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    rows = table_rows(section(md, "Top 2 symbols by anomalies"))
    assert [r[1] for r in rows] == ["XRPUSDT", "BTCUSDT"]
    assert result["summary"]["top_symbols"] == [("XRPUSDT", 6), ("BTCUSDT", 5)]


def test_first_events_per_symbol(db: Path, tmp_path: Path, report: dict) -> None:
    text = section(report["md"], "First violations and anomalies per symbol")
    btc = text.split("### BTCUSDT")[1].split("### ")[0]
    assert "critical R4_NO_NAN (bars_1s): close is NaN" in btc
    assert "2024-08-09 02:00:00 UTC (03:00:00 BST) → 2024-08-09 02:05:00 UTC (03:05:00 BST)" in btc
    assert "JUMP price jump, confidence 0.90, cluster of 3" in btc
    assert "No violations or anomalies: DOGEUSDT." in text

    # The list is capped per symbol and says how many were left out.
    result = write_report(db, SUMMER, tmp_path / "cap", details_per_symbol=2)
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    eth = md.split("### ETHUSDT")[1].split("### ")[0]
    assert "Violations (2 of 3, most severe first)" in eth
    # the record beyond the background first; the cap leaves room for one of the three background ones
    assert "Anomalies beyond the background (1 record, in time order):" in eth
    assert (
        "Background, not alarms — 3 background records (IsolationForest's expected share); the first 1, "
        "in time order:" in eth
    )
    assert eth.count("\n- ") == 4


def test_both_time_zones_summer_bst(report: dict) -> None:
    for text in (report["md"], report["html"]):
        assert "2024-08-09 13:04:05 UTC (14:04:05 BST)" in text
        # After 23:00 UTC the London date is the next day.
        assert "2024-08-09 23:30:00 UTC (2024-08-10 00:30:00 BST)" in text
        assert "Europe/London is BST (UTC+01:00) on 2024-08-09" in text
        assert "GMT" not in text


def test_both_time_zones_winter_gmt(db: Path, tmp_path: Path) -> None:
    result = write_report(db, WINTER, tmp_path / "out")
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    html = Path(result["html_path"]).read_text(encoding="utf-8")
    for text in (md, html):
        assert "2024-01-15 12:00:00 UTC (12:00:00 GMT)" in text
        assert "Europe/London is GMT (UTC+00:00) on 2024-01-15" in text
        assert "BST" not in text
    s = result["summary"]
    assert s["violations"]["total"] == 1 and s["violations"]["critical"] == 1
    # The winter cluster's count is 50; its start/end are not timestamps and are ignored, not fatal.
    assert (s["anomaly_records"], s["anomalies_expanded"]) == (1, 50)
    assert s["verdicts"] == {"FAIL": 1, "REVIEW": 0, "PASS": 0}


def test_time_format_around_the_clock_changes() -> None:
    from lakeqa.report.timefmt import fmt_ts, london_offset_note

    spring, autumn = dt.date(2024, 3, 31), dt.date(2024, 10, 27)
    assert london_offset_note(spring) == (
        "Europe/London changes clocks on 2024-03-31: GMT (UTC+00:00) then BST (UTC+01:00)"
    )
    assert london_offset_note(autumn).endswith("BST (UTC+01:00) then GMT (UTC+00:00)")
    assert fmt_ts(t("2024-03-31", "00:59:59")) == "2024-03-31 00:59:59 UTC (00:59:59 GMT)"
    assert fmt_ts(t("2024-03-31", "01:00:00")) == "2024-03-31 01:00:00 UTC (02:00:00 BST)"
    assert fmt_ts(t("2024-10-27", "00:30:00")) == "2024-10-27 00:30:00 UTC (01:30:00 BST)"
    assert fmt_ts(t("2024-10-27", "01:30:00.250")) == "2024-10-27 01:30:00.250 UTC (01:30:00.250 GMT)"


def test_markdown_tables_are_valid_gfm(report: dict) -> None:
    lines = report["md"].splitlines()
    i = 0
    n_tables = 0
    while i < len(lines):
        if not lines[i].startswith("|"):
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].startswith("|"):
            block.append(lines[i])
            i += 1
        n_tables += 1
        assert len(block) >= 2
        assert i == len(lines) or lines[i] == "", "a table must be followed by a blank line"
        widths = [len(re.split(r"(?<!\\)\|", row)) for row in block]
        assert len(set(widths)) == 1, block
        assert all(row.endswith("|") for row in block)
        assert re.fullmatch(r"\|( -{3,}:? \|)+", block[1]), block[1]
    assert n_tables == 5  # summary, fusion, rules, detectors, top-N
    # A pipe inside data is escaped, not a column break.
    assert "| 2 major violations (R3_ASK_GE_BID \\| crossed) |" in report["md"]
    rows = table_rows(section(report["md"], "Fusion by symbol"))
    assert rows[2][-1] == "2 major violations (R3_ASK_GE_BID \\| crossed)"


def test_markdown_escapes_html_from_data(report: dict) -> None:
    assert SCRIPT not in report["md"]
    assert "close is NaN \\<script\\>alert('pwn')\\</script\\>" in report["md"]


def test_html_escapes_text_from_data(report: dict) -> None:
    html = report["html"]
    assert "<script" not in html.lower()
    assert "close is NaN &lt;script&gt;alert(&#x27;pwn&#x27;)&lt;/script&gt;" in html
    assert "ask 2600.1 &lt; bid 2600.2" in html


def test_html_is_self_contained(report: dict) -> None:
    html = report["html"]
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
    assert not re.search(r"\bsrc\s*=", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"@import|url\(", html, re.I)
    for href in re.findall(r'href="([^"]*)"', html):
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I), href  # no scheme: relative links only
    assert "default-src 'none'" in html  # and a CSP that forbids any fetch


def test_html_charts(report: dict) -> None:
    html = report["html"]
    # One price chart per symbol (DOGEUSDT too, saying it has no bars), plus the count charts.
    symbol_charts = re.findall(r'<svg class="chart chart-symbol"[^>]*aria-label="([A-Z]+):', html)
    assert sorted(symbol_charts) == sorted(SUMMER_SYMBOLS)
    assert symbol_charts[:2] == ["DOGEUSDT", "BTCUSDT"]  # worst first
    count_charts = re.findall(r'<svg class="chart chart-counts"[^>]*aria-label="([^"]+)"', html)
    assert count_charts == [
        "Violations by rule",
        "Anomalies by detector: beyond the background (clusters expanded) and background records",
        "Top 10 symbols by anomalies beyond the background (expanded)",
    ]
    assert html.count("<svg") == len(symbol_charts) + len(count_charts) + 1  # + the legend
    btc = html.split('aria-label="BTCUSDT:')[1].split("</svg>")[0]
    assert "<polyline" in btc  # the close line
    assert "critical violation(s) R4_NO_NAN at 2024-08-09 13:04:05 UTC (14:04:05 BST)" in btc
    assert "3 JUMP anomalies at 2024-08-09 13:04:06 UTC (14:04:06 BST)" in btc
    assert "R5_CONTINUITY (critical): 2024-08-09 02:00:00 UTC" in btc  # the gap span
    assert "time (UTC)" in btc and ">12:00<" in btc
    doge = html.split('aria-label="DOGEUSDT:')[1].split("</svg>")[0]
    assert "no 1-minute bars for this day" in doge
    legend = html.split('<svg class="legend"')[1].split("</svg>")[0]
    for label in (
        "1-minute close",
        "critical violation",
        "major violation",
        "minor violation",
        "anomaly: JUMP",
    ):
        assert label in legend


def test_many_symbols_small_multiples(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "many.duckdb"))
    con.execute(FUSION_DDL)
    con.execute(f"create table bars_1m ({BARS_COLUMNS})")
    symbols = [f"SYM{i:02d}USDT" for i in range(15)]
    for i, s in enumerate(symbols):
        con.execute(
            "insert into fusion values (?::TIMESTAMP, ?::DATE, ?, 'daily', 'PASS', ?, 1, 1, 1, 1440, 0, 0, 0, 0, "
            "'clean', '{}')",
            [SUMMER, SUMMER, s, 0.9 + i / 1000],
        )
        con.execute(
            f"""insert into bars_1m select ?, ts, ts::DATE, 1, 1, 1, ? + epoch(ts) % 7, 1, 1, 1, 1, 1, 1, 0, 0
                from range(TIMESTAMP '{SUMMER}', TIMESTAMP '{SUMMER}' + INTERVAL 1 DAY, INTERVAL 1 MINUTE) r(ts)""",
            [s, i],
        )
    result = write_report(con, SUMMER, tmp_path / "out")
    con.execute("select 1")  # a connection passed in stays open
    html = Path(result["html_path"]).read_text(encoding="utf-8")
    assert html.count('class="chart chart-symbol"') == 15
    assert 'class="grid"' in html and "grid-template-columns" in html
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    assert "No `violations` table" in md and "No `anomalies` table" in md
    assert result["summary"]["tables_missing"] == ["anomalies", "bars_1s", "violations"]


def test_missing_anomalies_table(tmp_path: Path) -> None:
    db = build_db(tmp_path / "noanom.duckdb", anomalies=False, bars_1s=False)
    result = write_report(db, SUMMER, tmp_path / "out")
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    html = Path(result["html_path"]).read_text(encoding="utf-8")
    summary = dict(table_rows(section(md, "Summary")))
    assert summary["Anomalies"].startswith("not available (no anomalies table")
    assert summary["Bars (1s)"].startswith("not available")
    assert "No `anomalies` table in the database" in section(md, "Anomalies by detector")
    assert "Not available: no `anomalies` table." in section(md, "Top 10 symbols by anomalies")
    assert "No <code>anomalies</code> table in the database" in html
    assert html.count('class="chart chart-symbol"') == 5
    s = result["summary"]
    assert (s["anomaly_records"], s["anomalies_expanded"]) == (0, 0)
    assert s["violations"]["total"] == 6
    assert s["tables_missing"] == ["anomalies", "bars_1s"]


def test_empty_database_still_reports(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    result = write_report(db, SUMMER, tmp_path / "out")
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    assert "No `fusion` table in the database" in md
    assert result["summary"]["symbols"] == 0


# --------------------------------------------------------------------------------------------------------
# Beyond the background vs the expected background: a day like a clean one, hundreds of background records
# and a few that matter

# symbol -> records beyond the background: (clock, detector, cluster count or None)
BEYOND = {
    "NOISYUSDT": [("12:00:00", "JUMP", None)],
    "BUSYUSDT": [("03:00:00", "ZSCORE_LOG_VOLUME", None), ("15:00:00", "JUMP", 4), ("21:00:00", "ZSCORE_SPREAD_BP", None)],
    "CALMUSDT": [("06:00:00", "ZSCORE_VWAP_DRIFT_BP", None), ("18:00:00", "ZSCORE_VWAP_DRIFT_BP", None)],
}  # fmt: skip
# symbol -> (IFOREST background records, their baseline), spread evenly over the day
BACKGROUND = {
    "NOISYUSDT": (900, "history"),
    "ADAUSDT": (300, "history"),
    "BUSYUSDT": (150, "cold_start"),
    "CALMUSDT": (10, "history"),
}


def build_background_db(path: Path) -> Path:
    """Every symbol has 1-minute bars all day; the anomalies are BEYOND and BACKGROUND above. By records
    NOISYUSDT leads (901), then ADAUSDT (300, all background); beyond the background BUSYUSDT leads (6
    anomalies: its JUMP cluster counts 4), then CALMUSDT (2), then NOISYUSDT (1)."""
    con = duckdb.connect(str(path))
    con.execute(ANOMALIES_DDL)
    rows = []
    for symbol, records in BEYOND.items():
        for clock, detector, count in records:
            ts = t(SUMMER, clock)
            info = None if count is None else cluster(count, f"{SUMMER}T{clock}", f"{SUMMER}T{clock[:6]}09")
            rows.append(
                (symbol, ts, detector, "beyond", f"{detector} at {clock}", 0.9, 9.0, info, "history", True)
            )
    for symbol, (n, baseline) in BACKGROUND.items():
        step_s = 86_400 // n
        for i in range(n):
            # off the whole minute, so that no background record shares a second with a beyond one
            ts = t(SUMMER, "00:00:07") + dt.timedelta(seconds=i * step_s)
            rows.append(
                (symbol, ts, "IFOREST", "outlier", "isolation score 0.66", 0.52, 0.66, None, baseline, False)
            )
    con.executemany(
        "insert into anomalies values (?, ?, cast(? as DATE), ?, ?, ?, ?, ?, '{}', ?, ?, ?)",
        [(r[0], r[1], r[1].date(), *r[2:]) for r in rows],
    )
    con.execute(f"create table bars_1m ({BARS_COLUMNS})")
    for i, symbol in enumerate(sorted(BACKGROUND)):
        con.execute(
            f"""insert into bars_1m select ?, ts, ts::DATE, p, p, p, p, 1, p, 10, p, p, p, 0, 2
                from (select ts, ? * (1 + 0.01 * sin(epoch(ts) / 3000.0)) as p
                      from range(TIMESTAMP '{SUMMER}', TIMESTAMP '{SUMMER}' + INTERVAL 1 DAY, INTERVAL 1 MINUTE)
                           r(ts))""",
            [symbol, 10.0 * (i + 1)],
        )
    con.close()
    return path


@pytest.fixture(scope="module")
def background_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("background")
    result = write_report(build_background_db(root / "qa.duckdb"), SUMMER, root / "out")
    result["md"] = Path(result["md_path"]).read_text(encoding="utf-8")
    result["html"] = Path(result["html_path"]).read_text(encoding="utf-8")
    return result


def _symbol_chart(html: str, symbol: str) -> str:
    m = re.search(rf'<svg class="chart chart-symbol"[^>]*aria-label="{symbol}:.*?</svg>', html, re.S)
    assert m, f"no price chart for {symbol}"
    return m.group(0)


def test_background_summary_counts_beyond_and_background_apart(background_report: dict) -> None:
    s = background_report["summary"]
    assert (s["anomalies_beyond_background"], s["background_records"]) == (9, 1_360)
    assert (s["anomaly_records"], s["anomalies_expanded"]) == (1_366, 1_369)
    summary = dict(table_rows(section(background_report["md"], "Summary")))
    assert summary["Anomalies"] == (
        "9 anomalies beyond the background (from 6 records), 1,360 background records (IsolationForest's "
        "expected share 1,210, cold start 150); 1,369 anomalies from 1,366 records in all (clusters expanded)"
    )
    rows = table_rows(section(background_report["md"], "Anomalies by detector"))
    # beyond the background first: JUMP 1 + a cluster of 4; IFOREST, background only, last
    assert [r[0] for r in rows] == [
        "JUMP", "ZSCORE_VWAP_DRIFT_BP", "ZSCORE_LOG_VOLUME", "ZSCORE_SPREAD_BP", "IFOREST", "total",
    ]  # fmt: skip
    by_detector = {r[0]: r for r in rows}
    assert by_detector["JUMP"][1:5] == ["5", "0", "0", "2"]
    assert by_detector["IFOREST"][1:5] == ["0", "1,360", "150", "1,360"]
    assert by_detector["total"][1:5] == ["9", "1,360", "150", "1,366"]


def test_background_top_symbols_rank_by_beyond(background_report: dict) -> None:
    # by records NOISYUSDT (901) and ADAUSDT (300) would lead; beyond the background they do not
    assert background_report["summary"]["top_symbols"] == [("BUSYUSDT", 6), ("CALMUSDT", 2), ("NOISYUSDT", 1)]
    text = section(background_report["md"], "Top 10 symbols by anomalies")
    rows = table_rows(text)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("BUSYUSDT", "6", "150", "JUMP 4, ZSCORE_LOG_VOLUME 1, ZSCORE_SPREAD_BP 1"),
        ("CALMUSDT", "2", "10", "ZSCORE_VWAP_DRIFT_BP 2"),
        ("NOISYUSDT", "1", "900", "JUMP 1"),
    ]
    assert "Background records only: ADAUSDT." in text
    top = re.search(
        r'<svg class="chart chart-counts"[^>]*aria-label="Top 10 symbols.*?</svg>',
        background_report["html"],
        re.S,
    )
    labels = re.findall(r'<rect class="bar bar-beyond" data-label="(\w+)" data-count="(\d+)"', top.group(0))
    assert labels == [("BUSYUSDT", "6"), ("CALMUSDT", "2"), ("NOISYUSDT", "1")]
    background = re.findall(
        r'<rect class="bar bar-background" data-label="(\w+)" data-count="(\d+)"', top.group(0)
    )
    assert background == [("BUSYUSDT", "150"), ("CALMUSDT", "10"), ("NOISYUSDT", "900")]


def test_background_details_list_beyond_first(background_report: dict) -> None:
    text = section(background_report["md"], "First violations and anomalies per symbol")
    busy = text.split("### BUSYUSDT")[1].split("### ")[0]
    lines = re.findall(r"^- (.*)$", busy, re.M)
    # the three beyond the background in time order, then two background records (the cap of 5)
    assert [re.search(r"UTC \((\S+) BST\) — (\S+)", ln).groups() for ln in lines[:3]] == [
        ("04:00:00", "ZSCORE_LOG_VOLUME"), ("16:00:00", "JUMP"), ("22:00:00", "ZSCORE_SPREAD_BP"),
    ]  # fmt: skip
    assert "cluster of 4" in lines[1] and "(cold start)" not in "".join(lines[:3])
    assert len(lines) == 5 and all("IFOREST (cold start) outlier" in ln for ln in lines[3:])
    assert busy.index("Anomalies beyond the background (3 records, in time order):") < busy.index(
        "Background, not alarms — 150 background records (cold start); the first 2, in time order:"
    )
    noisy = text.split("### NOISYUSDT")[1].split("### ")[0]
    assert "Anomalies beyond the background (1 record, in time order):" in noisy
    # room for four more, but only a few background records are listed
    assert (
        "Background, not alarms — 900 background records (IsolationForest's expected share); the first 3"
        in noisy
    )
    assert noisy.count("\n- ") == 4
    quiet = text.split("### ADAUSDT")[1].split("### ")[0]
    assert "Anomalies beyond" not in quiet and "300 background records" in quiet
    # no fusion here, so by name, except that ADAUSDT, background only, comes after those with more
    assert re.findall(r"^### (\w+)", text, re.M) == ["BUSYUSDT", "CALMUSDT", "NOISYUSDT", "ADAUSDT"]


def test_background_details_count_it_when_the_cap_leaves_no_room(tmp_path: Path) -> None:
    db = build_background_db(tmp_path / "qa.duckdb")
    result = write_report(db, SUMMER, tmp_path / "out", details_per_symbol=3)
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    busy = md.split("### BUSYUSDT")[1].split("### ")[0]
    assert busy.count("\n- ") == 3
    assert "Also 150 background records (cold start): the detectors' expected background, not listed." in busy


def test_background_charts_mark_only_beyond(background_report: dict) -> None:
    html = background_report["html"]
    for symbol, records in BEYOND.items():
        chart = _symbol_chart(html, symbol)
        marks = re.findall(r'<circle [^>]*class="anomaly" data-detector="(\w+)" data-count="(\d+)"', chart)
        assert marks == [(d, str(n or 1)) for _, d, n in records], symbol
    assert 'class="anomaly"' not in _symbol_chart(html, "ADAUSDT")
    captions = re.findall(r'<div class="cap">([^<]*)</div>', html)
    assert (
        "0 violations · 6 anomalies beyond the background (from 3 records) · + 150 background records not drawn"
        in captions
    )
    assert "0 violations · 1 anomaly beyond the background · + 900 background records not drawn" in captions
    assert "0 violations · 0 anomalies beyond the background · + 300 background records not drawn" in captions

    detectors = re.search(
        r'<svg class="chart chart-counts"[^>]*aria-label="Anomalies by detector.*?</svg>', html, re.S
    )
    chart = detectors.group(0)
    beyond = re.findall(r'<rect class="bar bar-beyond" data-label="(\w+)" data-count="(\d+)"', chart)
    assert beyond == [
        ("JUMP", "5"),
        ("ZSCORE_VWAP_DRIFT_BP", "2"),
        ("ZSCORE_LOG_VOLUME", "1"),
        ("ZSCORE_SPREAD_BP", "1"),
    ]
    assert re.findall(r'<rect class="bar bar-background" data-label="(\w+)" data-count="(\d+)"', chart) == [
        ("IFOREST", "1360")
    ]
    # beyond first, each column with its header as legend
    assert chart.index("bar-beyond") < chart.index("bar-background")
    assert chart.index(">beyond the background<") < chart.index(
        ">background (not drawn on the price charts)<"
    )


def test_anomalies_table_without_the_background_columns_is_a_clear_error(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("create table anomalies (symbol VARCHAR, ts TIMESTAMP, date DATE, detector VARCHAR)")
    with pytest.raises(render.ReportError, match="lacks baseline, exceeds_background"):
        write_report(con, SUMMER, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_cluster_json_counts_one(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    con.execute(ANOMALIES_DDL)
    for i, c in enumerate(['{"count": 4}', "not json", "null", '{"count": "x"}', '{"count": 0}', None]):
        con.execute(
            "insert into anomalies values ('BTCUSDT', ?, ?::DATE, 'JUMP', 'l', 'r', .5, 1, '{}', ?, 'history', "
            "true)",
            [t(SUMMER, f"0{i}:00:00"), SUMMER, c],
        )
    result = write_report(con, SUMMER, tmp_path / "out")
    assert (result["summary"]["anomaly_records"], result["summary"]["anomalies_expanded"]) == (6, 9)


def test_odd_rows_do_not_crash(tmp_path: Path) -> None:
    """NULL symbol or time, upper-case severity, a STRUCT cluster column: reported, not fatal."""
    con = duckdb.connect(str(tmp_path / "odd.duckdb"))
    con.execute(VIOLATIONS_DDL)
    con.execute(
        "insert into violations values (NULL, NULL, NULL, ?::DATE, 'R5_CONTINUITY', 'CRITICAL', 'klines_1m', "
        "NULL, NULL), ('BTCUSDT', ?, NULL, ?::DATE, NULL, NULL, NULL, NULL, NULL)",
        [SUMMER, t(SUMMER, "01:00:00"), SUMMER],
    )
    con.execute(
        "create table anomalies (symbol VARCHAR, ts TIMESTAMP, date DATE, detector VARCHAR, "
        "cluster STRUCT(count BIGINT, start_ts VARCHAR, end_ts VARCHAR, max_abs_z DOUBLE), baseline VARCHAR, "
        "exceeds_background BOOLEAN)"
    )
    con.execute(  # a NULL exceeds_background counts as background (not known to exceed anything)
        "insert into anomalies values ('BTCUSDT', ?, ?::DATE, 'JUMP', {'count': 4, 'start_ts': NULL, "
        "'end_ts': NULL, 'max_abs_z': 8.0}, 'history', true), ('BTCUSDT', ?, ?::DATE, 'JUMP', NULL, NULL, NULL)",
        [t(SUMMER, "02:00:00"), SUMMER, t(SUMMER, "03:00:00"), SUMMER],
    )
    result = write_report(con, SUMMER, tmp_path / "out")
    s = result["summary"]
    assert s["violations"]["critical"] == 1 and s["violations"]["unknown"] == 1
    assert (s["anomaly_records"], s["anomalies_expanded"]) == (2, 5)
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    assert "| Violations | 2 (critical 1, major 0, minor 0, unknown 1) |" in md
    assert "cluster of 4" in md and "max \\|z\\| 8.00" not in md  # list items do not escape pipes
    assert "cluster of 4, max |z| 8.00" in md


def test_dense_violations_keep_the_html_small(tmp_path: Path) -> None:
    """A crossed book all day (one R3 violation a second) still gives a small, legible chart."""
    con = duckdb.connect(str(tmp_path / "dense.duckdb"))
    con.execute(VIOLATIONS_DDL)
    con.execute(
        f"""insert into violations select 'BTCUSDT', ts, NULL, ts::DATE, 'R3_ASK_GE_BID', 'major', 'bars_1s',
                'crossed', '{{}}'
            from range(TIMESTAMP '{SUMMER}', TIMESTAMP '{SUMMER}' + INTERVAL 1 DAY, INTERVAL 1 SECOND) r(ts)"""
    )
    result = write_report(con, SUMMER, tmp_path / "out")
    assert result["summary"]["violations"]["major"] == 86_400
    html = Path(result["html_path"]).read_text(encoding="utf-8")
    assert len(html) < 300_000
    chart = html.split('aria-label="BTCUSDT:')[1].split("</svg>")[0]
    assert 100 < chart.count("<polygon") <= 250  # merged marks, one every 2 units of the x axis
    assert "major violation(s) R3_ASK_GE_BID from 2024-08-09 00:00:00 UTC (01:00:00 BST) to" in chart


def test_hourly_mode_reads_hourly_rows(db: Path, tmp_path: Path) -> None:
    result = write_report(db, SUMMER, tmp_path / "out", mode="hourly")
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    assert md.startswith(f"# lakeqa QA report — {SUMMER} (hourly, 13:00–14:00 UTC)")
    rows = table_rows(section(md, "Fusion by symbol"))
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("BTCUSDT", "2024-08-09 13:00:00 UTC (14:00:00 BST)", "REVIEW")
    ]
    assert result["summary"]["verdicts"] == {"FAIL": 0, "REVIEW": 1, "PASS": 0}


def test_ge_data_docs_link_is_relative(db: Path, tmp_path: Path) -> None:
    ge = tmp_path / "great_expectations" / "data_docs" / "index.html"
    result = write_report(db, SUMMER, tmp_path / "out", ge_data_docs_url=str(ge))
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    html = Path(result["html_path"]).read_text(encoding="utf-8")
    rel = "../../../great_expectations/data_docs/index.html"
    assert (Path(result["md_path"]).parent / rel).resolve() == ge.resolve()
    assert f"Great Expectations Data Docs: [{rel}]({rel})" in md
    assert f'<a href="{rel}">' in html
    # Files section: where each output is.
    files = section(md, "Files and links")
    assert f"[reports/qa/{SUMMER}_qa_report.html]({SUMMER}_qa_report.html)" in files
    assert (
        f"[qa/schema/{SUMMER}_violations.jsonl](../../qa/schema/{SUMMER}_violations.jsonl) (not found)"
        in files
    )


def test_ge_data_docs_found_under_the_output_root(db: Path, tmp_path: Path) -> None:
    site = tmp_path / "out" / "ge" / "data_docs" / "index.html"
    site.parent.mkdir(parents=True)
    site.write_text("<html></html>", encoding="utf-8")
    result = write_report(db, SUMMER, tmp_path / "out")
    md = Path(result["md_path"]).read_text(encoding="utf-8")
    assert (
        "Great Expectations Data Docs: [../../ge/data_docs/index.html](../../ge/data_docs/index.html)" in md
    )
    assert '<a href="../../ge/data_docs/index.html">' in Path(result["html_path"]).read_text(encoding="utf-8")


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_leaves_no_temp_file(report: dict) -> None:
    folder = Path(report["md_path"]).parent
    assert _listing(folder) == [f"{SUMMER}_qa_report.html", f"{SUMMER}_qa_report.md"]
    assert report["html"].rstrip().endswith("</html>")
    assert Path(report["md_path"]).stat().st_mode & 0o044  # readable by others (not mkstemp's 0600)


def test_failure_while_rendering_keeps_old_report(
    db: Path, tmp_path: Path, report: dict, monkeypatch
) -> None:
    folder = Path(report["md_path"]).parent
    before = {name: (folder / name).read_bytes() for name in _listing(folder)}

    def boom(*args, **kwargs):
        raise RuntimeError("render failed half-way")

    monkeypatch.setattr(render, "render_html", boom)
    with pytest.raises(RuntimeError, match="half-way"):
        write_report(db, SUMMER, tmp_path / "out")
    assert {name: (folder / name).read_bytes() for name in _listing(folder)} == before


def test_failure_while_writing_keeps_old_report(db: Path, tmp_path: Path, report: dict, monkeypatch) -> None:
    folder = Path(report["md_path"]).parent
    before = {name: (folder / name).read_bytes() for name in _listing(folder)}
    calls = []

    def failing_fsync(fd: int) -> None:  # the second file's temp is half-written when this fails
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(render.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        write_report(db, WINTER, tmp_path / "out")
    with pytest.raises(OSError, match="No space"):
        calls.clear()
        write_report(db, SUMMER, tmp_path / "out", top_n=1)
    # Neither the winter report nor a changed summer report exists, and no temp file is left behind.
    assert {name: (folder / name).read_bytes() for name in _listing(folder)} == before


def test_rerun_replaces_report(db: Path, tmp_path: Path, report: dict) -> None:
    write_report(db, SUMMER, tmp_path / "out", top_n=1)
    md = Path(report["md_path"]).read_text(encoding="utf-8")
    assert "## Top 1 symbols by anomalies" in md
    assert _listing(Path(report["md_path"]).parent) == [f"{SUMMER}_qa_report.html", f"{SUMMER}_qa_report.md"]


def test_hourly_report_keeps_the_daily_one(db: Path, tmp_path: Path) -> None:
    daily = write_report(db, SUMMER, tmp_path / "out")
    folder = Path(daily["md_path"]).parent
    before = {name: (folder / name).read_bytes() for name in _listing(folder)}

    hourly = write_report(db, SUMMER, tmp_path / "out", mode="hourly")
    assert (hourly["md_path"], hourly["html_path"]) == (
        folder / f"{SUMMER}_qa_report_hourly.md",
        folder / f"{SUMMER}_qa_report_hourly.html",
    )
    assert _listing(folder) == sorted(
        [*before, f"{SUMMER}_qa_report_hourly.html", f"{SUMMER}_qa_report_hourly.md"]
    )
    assert {name: (folder / name).read_bytes() for name in before} == before

    # Each report links its own twin and lists the files of its own mode.
    md = Path(hourly["md_path"]).read_text(encoding="utf-8")
    assert f"[{SUMMER}_qa_report_hourly.html]({SUMMER}_qa_report_hourly.html)" in md
    files = section(md, "Files and links")
    assert f"[reports/qa/{SUMMER}_qa_report_hourly.md]({SUMMER}_qa_report_hourly.md)" in files
    assert f"[qa/fusion/{SUMMER}_fusion_hourly.parquet]" in files
    html = Path(hourly["html_path"]).read_text(encoding="utf-8")
    assert f'<a href="{SUMMER}_qa_report_hourly.md">' in html
    assert f"qa/fusion/{SUMMER}_fusion.parquet" in section(
        before[f"{SUMMER}_qa_report.md"].decode(), "Files and links"
    )


def test_bad_arguments(db: Path, tmp_path: Path) -> None:
    with pytest.raises(render.ReportError, match="bad day"):
        write_report(db, "2024-13-01", tmp_path)
    with pytest.raises(render.ReportError, match="bad mode"):
        write_report(db, SUMMER, tmp_path, mode="weekly")
    with pytest.raises(render.ReportError, match="not found"):
        write_report(tmp_path / "missing.duckdb", SUMMER, tmp_path)
    assert not (tmp_path / "reports").exists()


# --------------------------------------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakeqa")
    command.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_report(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli-out"
    args = _parser().parse_args(
        ["report", "--day", SUMMER, "--duckdb", str(db), "--output", str(out), "--top-n", "3"]
    )
    assert args.func(args) == 0
    md = (out / "reports" / "qa" / f"{SUMMER}_qa_report.md").read_text(encoding="utf-8")
    assert "## Top 3 symbols by anomalies" in md
    assert (out / "reports" / "qa" / f"{SUMMER}_qa_report.html").is_file()
    printed = capsys.readouterr().out
    assert f"{SUMMER}_qa_report.html" in printed
    assert "anomalies beyond the background 12, background records 4 (16 anomalies from 9 records" in printed


def test_cli_paths_from_environment_in_any_folder(db: Path, tmp_path: Path, monkeypatch) -> None:
    """DUCKDB_PATH and QA_OUTPUT_ROOT name where `lakeqa run` wrote; `lakeqa report` run from elsewhere
    reads and writes there, not in its current folder."""
    monkeypatch.setenv("DUCKDB_PATH", str(db))
    monkeypatch.setenv("QA_OUTPUT_ROOT", str(tmp_path / "env-out"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["report", "--day", SUMMER]) == 0
    assert (tmp_path / "env-out" / "reports" / "qa" / f"{SUMMER}_qa_report.md").is_file()
    assert list(elsewhere.iterdir()) == []


def test_cli_default_paths_are_the_projects(db: Path, tmp_path: Path, monkeypatch) -> None:
    """Without arguments or env vars: <project>/lakeqa.duckdb and <project>/output, as for every command
    (lakeqa.settings.Paths), not ./lakeqa.duckdb and ./output of the current folder."""
    project = _project_with_top_n(tmp_path / "project", None, monkeypatch)
    shutil.copy(db, project / "lakeqa.duckdb")
    monkeypatch.delenv("DUCKDB_PATH", raising=False)
    monkeypatch.delenv("QA_OUTPUT_ROOT", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["report", "--day", SUMMER]) == 0
    assert (project / "output" / "reports" / "qa" / f"{SUMMER}_qa_report.html").is_file()
    assert list(elsewhere.iterdir()) == []


def _project_with_top_n(folder: Path, top_n: int | None, monkeypatch) -> Path:
    """A copy of the project's dbt_project.yml in ``folder`` (with reporting.anomalies_top_n set to
    ``top_n`` when given), made the project that lakeqa.settings reads."""
    folder.mkdir()
    text = (settings.PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8")
    if top_n is not None:
        text, n = re.subn(r"(?m)^(\s*reporting\.anomalies_top_n:).*$", rf"\g<1> {top_n}", text)
        assert n == 1
    (folder / "dbt_project.yml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(settings, "PROJECT_DIR", folder)
    return folder


def _top_rows(md_path: Path, n: int) -> list[list[str]]:
    return table_rows(section(Path(md_path).read_text(encoding="utf-8"), f"Top {n} symbols by anomalies"))


def test_top_n_default_comes_from_dbt_project_yml(db: Path, tmp_path: Path, monkeypatch) -> None:
    assert settings.setting("reporting.anomalies_top_n") == 10  # the project's own default
    _project_with_top_n(tmp_path / "project", 2, monkeypatch)
    result = write_report(db, SUMMER, tmp_path / "api")
    assert [r[1] for r in _top_rows(result["md_path"], 2)] == ["XRPUSDT", "BTCUSDT"]
    html = Path(result["html_path"]).read_text(encoding="utf-8")
    assert "Top 2 symbols by anomalies beyond the background (expanded)" in html

    out = tmp_path / "cli"
    assert cli.main(["report", "--day", SUMMER, "--duckdb", str(db), "--output", str(out)]) == 0
    assert len(_top_rows(out / "reports" / "qa" / f"{SUMMER}_qa_report.md", 2)) == 2


@pytest.mark.parametrize(
    "dbt_vars", ['{"reporting": {"anomalies_top_n": 3}}', '{"reporting.anomalies_top_n": 3}']
)
def test_top_n_from_vars(db: Path, tmp_path: Path, dbt_vars: str) -> None:
    out = tmp_path / "out"
    argv = ["report", "--day", SUMMER, "--duckdb", str(db), "--output", str(out), "--vars", dbt_vars]
    assert cli.main(argv) == 0
    md = out / "reports" / "qa" / f"{SUMMER}_qa_report.md"
    assert [r[1] for r in _top_rows(md, 3)] == ["XRPUSDT", "BTCUSDT", "ETHUSDT"]

    # an explicit --top-n wins over the vars
    assert cli.main([*argv, "--top-n", "1"]) == 0
    assert [r[1] for r in _top_rows(md, 1)] == ["XRPUSDT"]


def test_top_n_vars_errors(db: Path, tmp_path: Path, capsys) -> None:
    argv = ["report", "--day", SUMMER, "--duckdb", str(db), "--output", str(tmp_path / "out"), "--vars"]
    assert cli.main([*argv, '{"reporting": {"anomalies_topn": 3}}']) == 1
    assert "unknown setting 'reporting.anomalies_topn'" in capsys.readouterr().err
    assert cli.main([*argv, '{"reporting.anomalies_top_n": -1}']) == 1
    assert "whole number >= 0" in capsys.readouterr().err
    assert cli.main([*argv, "{not json"]) == 1
    assert "--vars is not JSON" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_passes_its_vars_to_the_report(db: Path, tmp_path: Path, capsys) -> None:
    """`lakeqa run --vars` reaches the report's top-N (only the report step runs, on the fixture DB)."""
    (tmp_path / "lake").mkdir()
    out = tmp_path / "out"
    skip = [a for step in ("build", "ge", "exports", "docs") for a in ("--skip", step)]
    argv = ["run", "--day", SUMMER, *skip, "--lake", str(tmp_path / "lake"), "--duckdb", str(db)]
    code = cli.main([*argv, "--output", str(out), "--vars", '{"reporting.anomalies_top_n": 3}'])
    assert code == 4  # the fixture has FAIL verdicts
    assert len(_top_rows(out / "reports" / "qa" / f"{SUMMER}_qa_report.md", 3)) == 3
    assert f"{SUMMER}_qa_report.html" in capsys.readouterr().out


def test_cli_errors(tmp_path: Path, capsys) -> None:
    args = _parser().parse_args(["report", "--day", SUMMER, "--duckdb", str(tmp_path / "nope.duckdb")])
    assert args.func(args) == 1
    assert "nope.duckdb not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parser().parse_args(["report", "--day", "09/08/2024"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["report"])  # --day is required
    help_text = _parser()._subparsers._group_actions[0].choices["report"].format_help()
    assert "example" in help_text and "lakeqa report --day 2024-08-09" in help_text


def test_score_formula_shows_the_weights_the_build_used(tmp_path):
    path = build_db(tmp_path / "w.duckdb")
    con = duckdb.connect(str(path))
    con.execute(
        """update fusion set metadata = '{"weights": {"schema": 0.6, "detector": 0.25, "ai": 0.15}}'"""
    )
    con.close()
    result = write_report(path, SUMMER, tmp_path / "out")
    assert "score = 0.6 × schema + 0.25 × detector + 0.15 × AI" in Path(result["md_path"]).read_text()
    assert "score = 0.6 × schema + 0.25 × detector + 0.15 × AI" in Path(result["html_path"]).read_text()
    # without metadata the formula shows the settings' defaults (dbt_project.yml)
    result = write_report(build_db(tmp_path / "d.duckdb"), SUMMER, tmp_path / "out2")
    assert "score = 0.7 × schema + 0.2 × detector + 0.1 × AI" in Path(result["md_path"]).read_text()


# --------------------------------------------------------------------------------------------------------
# Completeness: the coverage section and the failures named first, on a small generated lake built by dbt

COMPLETENESS_DAY = "2024-08-09"


@pytest.fixture(scope="module")
def completeness_report(tmp_path_factory, _dbt_private_paths) -> dict:
    """Three generated days (2024-08-07..09) of four symbols built in one range run; 2024-08-09 has an
    OUTAGE (BTCUSDT), a TRADE_STREAM_DEATH (ETHUSDT) and MISSING_KLINES (BNBUSDT); XRPETH is clean."""
    from lakeqa.generate import generate_lake

    from .conftest import DbtProject

    project = DbtProject(tmp_path_factory.mktemp("completeness"))
    generate_lake(
        project.lake,
        date=COMPLETENESS_DAY,
        days=3,
        symbols="BTCUSDT,ETHUSDT,BNBUSDT,XRPETH",
        trades_per_day=100_000,
        faults="OUTAGE,TRADE_STREAM_DEATH,MISSING_KLINES",
        progress=False,
    )
    truth = json.loads(
        (project.lake / "_generator" / f"ground_truth_{COMPLETENESS_DAY}.json").read_text(encoding="utf-8")
    )
    project.build({"from": "2024-08-07", "to": COMPLETENESS_DAY})
    result = write_report(project.paths.duckdb_path, COMPLETENESS_DAY, project.paths.output_root)
    result["md"] = Path(result["md_path"]).read_text(encoding="utf-8")
    result["html"] = Path(result["html_path"]).read_text(encoding="utf-8")
    result["faults"] = {f["kind"]: f for f in truth["faults"]}
    return result


def _coverage_rows(md: str) -> dict[tuple[str, str], list[str]]:
    return {(r[0], r[1]): r for r in table_rows(section(md, "Coverage"))}


def _clock_seconds(text: str) -> int:
    hours, minutes, *seconds = (int(x) for x in text.split(":"))
    return hours * 3600 + minutes * 60 + (seconds[0] if seconds else 0)


def test_coverage_section_shows_gaps_and_missing_datasets(completeness_report: dict) -> None:
    md = completeness_report["md"]
    titles = re.findall(r"^## (.+)$", md, re.M)
    assert titles[:4] == ["Summary", "What broke", "Fusion by symbol", "Coverage"]
    rows = _coverage_rows(md)
    assert {s for s, _ in rows} == {"BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPETH"}

    # BTCUSDT: the collector dies at 15:00; its trade gap runs from then (to the second) to 24:00.
    outage = dt.datetime.fromisoformat(completeness_report["faults"]["OUTAGE"]["completeness"]["start"])
    btc = rows[("BTCUSDT", "trades")]
    m = re.search(r"(\d\d:\d\d(?::\d\d)?)–24:00 UTC \(C1_TRADE_GAP", btc[-1])
    assert m, btc
    start_s = _clock_seconds(m.group(1))
    outage_s = outage.hour * 3600 + outage.minute * 60
    assert outage_s - 60 <= start_s <= outage_s
    assert f"{outage.hour - 1:02d}:59" in btc[4] or f"{outage.hour:02d}:00" in btc[4]
    assert btc[4].startswith("9 h (") and "–24:00 UTC)" in btc[4]
    assert re.fullmatch(r"[\d,]+ \(median [\d,]+, −\d+ %\)", btc[2]), btc[2]
    assert rows[("BTCUSDT", "quotes")][-1].startswith(f"{outage:%H:%M}–24:00 UTC (C2_QUOTE_GAP")

    # ETHUSDT: the trade stream dies for 90 minutes.
    death = completeness_report["faults"]["TRADE_STREAM_DEATH"]["completeness"]
    m = re.fullmatch(r"(\S+)–(\S+) UTC \(C1_TRADE_GAP.*\)", rows[("ETHUSDT", "trades")][-1])
    assert m, rows[("ETHUSDT", "trades")]
    start, end = (dt.datetime.fromisoformat(death[k]) for k in ("start", "end"))
    assert (
        start.hour * 3600 + start.minute * 60 - 60
        <= _clock_seconds(m.group(1))
        <= start.hour * 3600 + start.minute * 60
    )
    assert (
        end.hour * 3600 + end.minute * 60
        <= _clock_seconds(m.group(2))
        <= end.hour * 3600 + end.minute * 60 + 60
    )

    # BNBUSDT: no klines at all that day, though the lake has them on the days before.
    bnb = rows[("BNBUSDT", "klines_1m")]
    assert bnb[2].startswith("missing (median 1,440)") and bnb[3] == "—" and bnb[5] == "0.0 %"
    assert rows[("BNBUSDT", "trades")][2].startswith(("9,", "8,"))  # the other datasets arrived

    # XRPETH is clean: no gap in any dataset.
    for ds in ("trades", "quotes", "klines_1m"):
        assert rows[("XRPETH", ds)][-1] == "", rows[("XRPETH", ds)]
        assert not rows[("XRPETH", ds)][2].startswith("missing")


def test_what_broke_names_the_failures_first(completeness_report: dict) -> None:
    md = completeness_report["md"]
    items = re.findall(r"^- \*\*(FAIL|REVIEW)\*\* (\S+): (.*)$", section(md, "What broke"), re.M)
    assert [(v, s) for v, s, _ in items][-1] == ("REVIEW", "BNBUSDT")
    assert {(v, s) for v, s, _ in items[:2]} == {("FAIL", "BTCUSDT"), ("FAIL", "ETHUSDT")}
    assert len(items) == 3  # XRPETH passes
    reasons = {s: r for _, s, r in items}
    assert (
        reasons["BTCUSDT"].startswith("C1_TRADE_GAP: no trades") and "–24:00 UTC (9 h)" in reasons["BTCUSDT"]
    )
    assert reasons["BNBUSDT"].startswith("C4_MISSING_DATASET: no klines_1m")
    # Completeness rules come first in the violations by rule.
    rules = [r[0] for r in table_rows(section(md, "Violations by rule"))]
    completeness = [i for i, r in enumerate(rules) if re.match(r"C\d+_", r)]
    assert completeness and completeness == list(range(len(completeness)))
    assert {"C1_TRADE_GAP", "C3_KLINE_WITNESS", "C4_MISSING_DATASET"} <= set(rules)


def _timeline(html: str, symbol: str) -> str:
    m = re.search(rf'<svg class="chart chart-coverage"[^>]*data-symbol="{symbol}".*?</svg>', html, re.S)
    assert m, f"no coverage timeline for {symbol}"
    return m.group(0)


def test_html_coverage_timelines_mark_the_gaps(completeness_report: dict) -> None:
    html = completeness_report["html"]
    assert html.count('class="chart chart-coverage"') == 4
    assert html.index('<section id="coverage">') < html.index('<section id="charts">')
    assert html.index('<section id="broke">') < html.index('<section id="fusion">')

    btc = _timeline(html, "BTCUSDT")
    gaps = re.findall(
        r'<rect class="gap" data-dataset="(\w+)"[^>]*data-end="([^"]+)"[^>]*><title>([^<]*)</title>', btc
    )
    assert {ds for ds, _, _ in gaps} == {"trades", "quotes"}
    trades = next(g for g in gaps if g[0] == "trades")
    assert trades[1] == "2024-08-10T00:00:00"
    assert "C1_TRADE_GAP" in trades[2] and "–24:00 UTC (9 h)" in trades[2]

    eth = _timeline(html, "ETHUSDT")
    assert re.search(r'<rect class="gap" data-dataset="trades"[^>]*data-start="2024-08-09T03:', eth)

    bnb = _timeline(html, "BNBUSDT")
    assert re.search(r'<rect class="lane-missing" data-dataset="klines_1m"', bnb)
    assert ">missing</text>" in bnb

    xrp = _timeline(html, "XRPETH")
    assert 'class="gap"' not in xrp and "lane-missing" not in xrp
    assert xrp.count('class="covered"') == 3
    # Still self-contained: no URL (the data attributes hold ISO times, never //).
    assert "//" not in html.replace("://", "") and "https://" not in html
