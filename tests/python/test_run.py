"""`lakeqa run`: one command from a lake to every output of DESIGN.md, with an exit code to act on."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from lakeqa import cli
from lakeqa.generate import generate_lake

pytestmark = pytest.mark.e2e


def strict_loads(line: str):
    """json.loads refusing NaN and infinities (not JSON: jq, browsers and most parsers reject them)."""

    def refuse(token: str):
        raise ValueError(f"not JSON: {token} in {line}")

    return json.loads(line, parse_constant=refuse)


QA_FILES = ("qa/schema/2024-08-09_violations.jsonl", "qa/ai/2024-08-09_anomalies.jsonl",
            "qa/fusion/2024-08-09_fusion.parquet")  # fmt: skip


@pytest.fixture
def usual_umask():
    """umask 022 for the test: the files must then come out readable by others (0644)."""
    saved = os.umask(0o022)
    yield
    os.umask(saved)


def test_daily_run_writes_every_output_and_exits_on_fail(run_env, usual_umask, capsys, caplog, monkeypatch):
    project = run_env
    generate_lake(project.lake, date="2024-08-09", days=2, trades_per_day=60_000, faults="all", progress=False)
    # a day this small is judged on the build's process alone; lowered, the run lends IsolationForest GE's
    # worker process as it does a big day's (models/detectors/anomalies_iforest.py reads it at run time)
    from lakeqa.detectors import iforest

    monkeypatch.setattr(iforest, "PARALLEL_MIN_ROWS", 0)
    with caplog.at_level(logging.INFO, logger="lakeqa.workers"):
        code = cli.main(["run", "--mode", "daily", "--day", "2024-08-09"])
    out = capsys.readouterr().out
    shared = [r.getMessage() for r in caplog.records if r.name == "lakeqa.workers" and "handled here" in r.getMessage()]
    assert shared and "with 1 worker process" in shared[0], f"IsolationForest was not lent the worker: {shared}"
    assert not shared[0].split(" handled here, ")[1].startswith("0 "), f"the worker judged no symbol: {shared}"
    assert code == 4, "a FAIL verdict must give exit code 4 with the default --fail-on FAIL"
    root = project.paths.output_root
    for rel in (
        "qa/schema/2024-08-09_violations.jsonl",
        "qa/ai/2024-08-09_anomalies.jsonl",
        "qa/fusion/2024-08-09_fusion.parquet",
        "reports/qa/2024-08-09_qa_report.md",
        "reports/qa/2024-08-09_qa_report.html",
        "qa/manifest/2024-08-09_manifest.json",
        "ge/data_docs/index.html",
    ):
        assert (root / rel).is_file(), rel
        assert rel.split("/")[-1] in out or rel.startswith("ge/"), f"the summary does not say where {rel} is"
    assert "verdicts:" in out and "FAIL" in out and "PASS" in out
    # GE checked the day on its own process beside the exports and the report: its results follow them
    ge_line = out.index("2024-08-09: 8 suites, ")
    assert out.index("Great Expectations checkpoint and Data Docs (on its own process") < out.index("daily report") < ge_line
    assert "with unexpected rows" in out[ge_line:].splitlines()[0] and " 0 with unexpected" not in out

    first = json.loads((root / "qa/schema/2024-08-09_violations.jsonl").read_text().splitlines()[0])
    assert list(first)[:6] == ["symbol", "ts", "rule", "severity", "detail", "row_sample"]
    assert isinstance(first["row_sample"], dict)
    for rel in QA_FILES:
        assert stat.S_IMODE((root / rel).stat().st_mode) & 0o044 == 0o044, f"{rel} is not readable by others"
    # strict JSON on every line, on a day with a NaN price (the NAN_PRICE fault): the NaN is null
    records = {}
    for rel in QA_FILES[:2]:
        records[rel] = [strict_loads(line) for line in (root / rel).read_text(encoding="utf-8").splitlines()]
    nan_rows = [r for r in records[QA_FILES[0]] if r["rule"] == "R4_NO_NAN" and r["symbol"] == "BNBUSDT"]
    assert nan_rows and all(None in r["row_sample"].values() and "nan" in r["detail"] for r in nan_rows)
    first_bytes = {rel: (root / rel).read_bytes() for rel in QA_FILES}
    fusion = project.query(
        f"select count(*), count(distinct symbol) from read_parquet('{root}/qa/fusion/2024-08-09_fusion.parquet')"
    )[0]
    assert fusion[0] == fusion[1] == 13
    # the day manifest carries each symbol-day's files and the verdict it was given
    day_manifest = strict_loads((root / "qa/manifest/2024-08-09_manifest.json").read_text())
    verdicts = dict(project.query("select symbol, verdict from fusion where mode = 'daily'"))
    assert {s: e["verdict"] for s, e in day_manifest["symbols"].items() if e["status"] == "judged"} == verdicts
    # ... and each lake file's SHA-256 (hashed on a thread while the build ran)
    files = [f for entry in day_manifest["symbols"].values() for f in entry["files"]]
    assert files and all(hashlib.sha256((project.lake / f["path"]).read_bytes()).hexdigest() == f["sha256"] for f in files)
    manifest_bytes = (root / "qa/manifest/2024-08-09_manifest.json").read_bytes()

    # dbt docs: the overview page carries the verdict table
    target = os.environ["DBT_TARGET_PATH"]
    manifest = json.loads(open(os.path.join(target, "manifest.json")).read())
    overview = manifest["docs"]["doc.lakeqa.__overview__"]["block_contents"]
    assert "Latest verdicts: 2024-08-09" in overview and "| BNBUSDT | **FAIL**" in overview
    # the exposures link to what this run wrote: the report folder, the GE index, the QA files' folder
    urls = {e["name"]: e["url"] for e in manifest["exposures"].values()}
    linked = {name: Path(unquote(urlparse(url).path)) for name, url in urls.items()}
    assert (linked["daily_qa_report"] / "2024-08-09_qa_report.html").is_file(), urls
    assert linked["great_expectations_data_docs"] == root / "ge/data_docs/index.html", urls
    assert all((linked["qa_files"] / rel.removeprefix("qa/")).is_file() for rel in QA_FILES), urls

    # the same day again: same verdicts; --fail-on never exits 0
    before = project.query("select symbol, verdict, score from fusion order by symbol")
    assert cli.main(["run", "--day", "2024-08-09", "--fail-on", "never", "--skip", "docs", "--skip", "ge"]) == 0
    assert project.query("select symbol, verdict, score from fusion order by symbol") == before
    # ... and the same bytes in every file (the fusion metadata's keys come out of SQL in any order)
    for rel in QA_FILES:
        assert (root / rel).read_bytes() == first_bytes[rel], f"{rel} changed when the day was run again"
    assert (root / "qa/manifest/2024-08-09_manifest.json").read_bytes() == manifest_bytes


def test_range_gives_a_verdict_per_day(run_env):
    project = run_env
    generate_lake(project.lake, date="2024-08-10", days=3, trades_per_day=30_000, progress=False)
    code = cli.main(["run", "--from", "2024-08-08", "--to", "2024-08-10", "--skip", "docs", "--skip", "ge",
                     "--fail-on", "REVIEW"])
    assert code == 0
    days = project.query("select cast(date as varchar), count(*) from fusion group by all order by 1")
    assert days == [("2024-08-08", 13), ("2024-08-09", 13), ("2024-08-10", 13)]


def test_hourly_mode_reads_and_replaces_only_its_window(run_env):
    project = run_env
    generate_lake(project.lake, date="2024-08-09", trades_per_day=30_000, progress=False)
    assert cli.main(["run", "--day", "2024-08-09", "--skip", "docs", "--skip", "ge", "--skip", "report"]) in (0, 4)
    outside = project.query(
        "select count(*), md5(string_agg(cast(t as varchar), ',' order by symbol, ts)) from bars_1s t"
        " where ts < timestamp '2024-08-09 10:30' or ts >= timestamp '2024-08-09 12:00'"
    )
    code = cli.main(["run", "--mode", "hourly", "--hourly-end", "2024-08-09 12:00", "--skip", "docs",
                     "--skip", "report"])
    assert code in (0, 4)
    # the staging views of the hourly run hold only the 90 minutes of the window: the rows it touched
    lo, hi, n = project.query("select min(ts), max(ts), count(*) from stg_lake__trades")[0]
    assert n > 0 and str(lo) >= "2024-08-09 10:30:00" and str(hi) < "2024-08-09 12:00:00"
    assert project.query(
        "select count(*), md5(string_agg(cast(t as varchar), ',' order by symbol, ts)) from bars_1s t"
        " where ts < timestamp '2024-08-09 10:30' or ts >= timestamp '2024-08-09 12:00'"
    ) == outside
    hourly = project.query("select distinct strftime(ts, '%H:%M') from fusion where mode = 'hourly'")
    assert hourly == [("11:00",)]
    assert project.query("select count(*) from fusion where mode = 'daily'") == [(13,)]


def test_hourly_run_across_midnight_leaves_the_daily_reports_byte_identical(run_env):
    project = run_env
    generate_lake(project.lake, date="2024-08-10", days=2, symbols=3, trades_per_day=20_000, progress=False)
    assert cli.main(["run", "--from", "2024-08-09", "--to", "2024-08-10", "--skip", "docs", "--skip", "ge",
                     "--fail-on", "never"]) == 0
    reports = project.paths.output_root / "reports" / "qa"
    daily = {p.name: p.read_bytes() for p in sorted(reports.iterdir())}
    assert set(daily) == {f"2024-08-{d}_qa_report.{ext}" for d in ("09", "10") for ext in ("md", "html")}
    # the window 23:00..00:30 crosses midnight: it touches both days
    assert cli.main(["run", "--mode", "hourly", "--hourly-end", "2024-08-10 00:30", "--skip", "docs",
                     "--skip", "ge", "--fail-on", "never"]) == 0
    after = {p.name: p.read_bytes() for p in sorted(reports.iterdir())}
    assert {name: after[name] for name in daily} == daily, "an hourly run rewrote a daily report"
    hourly = set(after) - set(daily)
    assert hourly and all(name.endswith(("_qa_report_hourly.md", "_qa_report_hourly.html")) for name in hourly)
    assert "hourly" in after["2024-08-09_qa_report_hourly.md"].decode()


def test_run_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "lakeqa run --mode daily --day" in capsys.readouterr().out


def test_bad_day_is_a_clear_error(run_env, capsys):
    generate_lake(run_env.lake, date="2024-08-09", trades_per_day=5_000, progress=False)
    assert cli.main(["run", "--day", "2024-02-30"]) == 1
    assert "not a calendar day" in capsys.readouterr().err


def test_demo_at_its_default_size_builds_under_the_default_memory_limit(run_env, monkeypatch, capsys):
    """`make demo` as a user runs it: seven days of 300 000 trades in one range build, duplicates to dedupe,
    DuckDB under profiles.yml's default memory limit (under a 600MB default it failed one run in four:
    window functions cannot spill their pinned blocks, and two dbt threads overlap two such nodes)."""
    monkeypatch.delenv("DUCKDB_MEMORY_LIMIT", raising=False)
    assert cli.main(["demo"]) == 0, capsys.readouterr().err[-2000:]
    assert run_env.query("select count(distinct date) from fusion")[0][0] == 7


def test_demo_builds_the_lake_and_runs_the_qa(run_env, capsys):
    """The README's main command (make demo = lakeqa demo) from an empty lake, on a small generated day."""
    assert cli.main(["demo", "--trades-per-day", "20000"]) == 0
    out = capsys.readouterr().out
    assert "where to look:" in out
    days = run_env.query("select cast(date as varchar), count(*) from fusion group by all order by 1")
    assert [d for d, _ in days] == ["2024-08-08", "2024-08-09", "2024-08-10", "2024-08-11", "2024-08-12",
                                    "2024-08-13", "2024-08-14"]  # fmt: skip
    # the real sample's two symbols on its two days, the generated days' thirteen
    assert days[-1][1] == 13 and days[-2][1] == 13
    report = run_env.paths.output_root / "reports/qa/2024-08-14_qa_report.md"
    assert (run_env.paths.output_root / "reports/qa/2024-08-14_qa_report.html").is_file()
    # the last clean day is judged against what the detectors learned from the three before it
    clean = (run_env.paths.output_root / "reports/qa/2024-08-13_qa_report.md").read_text()
    [anomalies] = [line for line in clean.splitlines() if line.startswith("| Anomalies |")]
    assert "| 0 anomalies beyond the background" in anomalies, anomalies
    # the faulted day's report shows what did not arrive, by name
    text = report.read_text()
    assert "Coverage" in text and "What broke" in text
    for rule in ("C1_TRADE_GAP", "C4_MISSING_DATASET", "C5_ROW_DROP"):
        assert rule in text, rule
