"""Runs beside analysts and schedulers (issue #16), end to end with real processes: an analyst's session open
during a run, two runs at once, a run killed with kill -9 and the stale lock it leaves, a daily run without
--day."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from lakeqa import cli, disk, runlock, runlog, snapshot
from lakeqa.settings import project_defaults
from lakeqa.generate import generate_lake

pytestmark = pytest.mark.e2e

LAKEQA = [sys.executable, "-m", "lakeqa.cli"]
QUICK = ["--skip", "docs", "--skip", "ge", "--fail-on", "never"]


def start_run(*args: str, log: Path) -> subprocess.Popen:
    """`lakeqa run ARGS` as its own process (the environment of the test), its output in `log`."""
    handle = open(log, "w")  # noqa: SIM115 - closed by the child's exit; the test reads the file
    return subprocess.Popen([*LAKEQA, "run", *args], stdout=handle, stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def lock_record(duckdb_path: Path) -> dict:
    path = runlock.lock_path(duckdb_path)
    text = path.read_text() if path.exists() else ""
    return json.loads(text) if text.strip() else {}


def fusion_days(duckdb_path: Path) -> list[tuple]:
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        return con.execute("select cast(date as varchar), count(*) from fusion group by all order by 1").fetchall()
    finally:
        con.close()


def test_an_analyst_session_open_during_a_run_neither_blocks_it_nor_sees_a_half_day(run_env):
    project = run_env
    db = project.paths.duckdb_path
    generate_lake(project.lake, date="2024-08-10", days=2, trades_per_day=30_000, progress=False)
    assert cli.main(["run", "--day", "2024-08-09", *QUICK]) == 0
    assert fusion_days(db) == [("2024-08-09", 13)]

    # an analyst opens the published file read-only and keeps the session open through the next run
    analyst = subprocess.Popen(
        [sys.executable, "-c", (
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(db)!r}, read_only=True)\n"
            "q = 'select cast(date as varchar), count(*) from fusion group by all order by 1'\n"
            "print(con.execute(q).fetchall(), flush=True)\n"
            "sys.stdin.readline()\n"
            "print(con.execute(q).fetchall(), flush=True)\n"
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert analyst.stdout.readline().strip() == "[('2024-08-09', 13)]"
        assert cli.main(["run", "--day", "2024-08-10", *QUICK]) == 0, "an open read-only session failed the run"
        # the open session still reads the snapshot it opened: never a day half replaced
        analyst.stdin.write("\n")
        analyst.stdin.flush()
        assert analyst.stdout.readline().strip() == "[('2024-08-09', 13)]"
    finally:
        analyst.communicate(timeout=30)
    # a session opened after the run sees the new day
    assert fusion_days(db) == [("2024-08-09", 13), ("2024-08-10", 13)]


def test_two_runs_at_once_the_second_waits_or_exits_busy(run_env, tmp_path):
    project = run_env
    db = project.paths.duckdb_path
    generate_lake(project.lake, date="2024-08-09", trades_per_day=30_000, progress=False)
    first = start_run("--day", "2024-08-09", *QUICK, log=tmp_path / "first.log")
    try:
        wait_for(lambda: lock_record(db).get("pid") == first.pid, 60, "the first run to take the lock")
        busy = subprocess.run([*LAKEQA, "run", "--day", "2024-08-09", "--wait", "1", *QUICK],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert busy.returncode == runlock.EXIT_BUSY, busy.stdout + busy.stderr
        assert f"pid {first.pid}" in busy.stderr and "daily 2024-08-09" in busy.stderr, busy.stderr
        assert "started" in busy.stderr and "--wait" in busy.stderr, busy.stderr
        # with a long enough wait the second run waits for the first, then runs
        patient = start_run("--day", "2024-08-09", "--wait", "600", *QUICK, log=tmp_path / "patient.log")
        assert first.wait(timeout=600) == 0, (tmp_path / "first.log").read_text()
        assert patient.wait(timeout=600) == 0, (tmp_path / "patient.log").read_text()
        assert f"waiting up to 600 s for the run of pid {first.pid}" in (tmp_path / "patient.log").read_text()
    finally:
        first.kill()
    assert fusion_days(db) == [("2024-08-09", 13)]


def test_a_run_killed_with_kill_9_leaves_the_previous_day_and_a_lock_the_next_run_takes_over(run_env, tmp_path):
    project = run_env
    db = project.paths.duckdb_path
    generate_lake(project.lake, date="2024-08-09", trades_per_day=30_000, faults="all", progress=False)
    assert cli.main(["run", "--day", "2024-08-09", *QUICK]) == 0
    before = project.query("select symbol, verdict, score, reason from fusion order by symbol")
    published = db.read_bytes()

    # the same day again with other settings (every verdict changes), killed in the middle of its build
    other = json.dumps({"fusion": {"pass_score": 0.999, "review_score": 0.998}})
    victim = start_run("--day", "2024-08-09", "--vars", other, *QUICK, log=tmp_path / "victim.log")
    wait_for(lambda: "START sql" in (tmp_path / "victim.log").read_text(), 120, "the build to start")
    time.sleep(3)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert db.read_bytes() == published, "a killed run changed what analysts read"
    assert project.query("select symbol, verdict, score, reason from fusion order by symbol") == before
    assert lock_record(db).get("pid") == victim.pid, "the killed run's record should still be in the lock file"

    # the next run recognises the lock as stale, takes it over and finishes
    after = subprocess.run([*LAKEQA, "run", "--day", "2024-08-09", "--wait", "5", *QUICK],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert after.returncode == 0, after.stdout + after.stderr
    assert f"the lock left by pid {victim.pid}" in after.stderr and "stale" in after.stderr, after.stderr
    assert project.query("select symbol, verdict, score, reason from fusion order by symbol") == before
    assert lock_record(db) == {}, "a finished run clears its record"
    assert not list(db.parent.glob(f".{db.name}.*.tmp")), "a temporary snapshot was left behind"


def test_a_daily_run_without_day_judges_the_last_complete_utc_day(run_env):
    project = run_env
    today = dt.datetime.now(dt.timezone.utc).date()
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    # the lake holds yesterday and the first part of today (a scheduler's 00:15 run sees both)
    generate_lake(project.lake, date=today.isoformat(), days=2, trades_per_day=20_000, progress=False)
    assert cli.main(["run", "--skip", "freshness", *QUICK]) == 0
    assert fusion_days(project.paths.duckdb_path) == [(yesterday, 13)]


def test_the_working_file_is_refreshed_when_someone_else_wrote_the_published_one(tmp_path):
    published = tmp_path / "qa.duckdb"
    con = duckdb.connect(str(published))
    con.execute("create table t as select 1 as v")
    con.close()
    working = snapshot.prepare(published)
    assert working == tmp_path / "qa.work.duckdb"
    con = duckdb.connect(str(working))
    con.execute("insert into t values (2)")
    con.close()
    snapshot.publish(working, published)
    assert duckdb.connect(str(published), read_only=True).execute("select sum(v) from t").fetchone()[0] == 3
    # a run continues from its working file ...
    assert snapshot.prepare(published) == working
    # ... unless the published file was written by someone else (e.g. dbt build on DUCKDB_PATH)
    time.sleep(0.01)
    con = duckdb.connect(str(published))
    con.execute("insert into t values (10)")
    con.close()
    snapshot.prepare(published)
    assert duckdb.connect(str(working), read_only=True).execute("select sum(v) from t").fetchone()[0] == 13


def test_the_disk_check_warns_and_refuses_at_its_thresholds(run_env, capsys):
    project = run_env
    generate_lake(project.lake, date="2024-08-09", trades_per_day=20_000, progress=False)
    used = disk.usage(project.paths.duckdb_path.parent).used_pct
    assert used > 0
    # a threshold below what this filesystem uses stands for a full disk
    refuse = json.dumps({"disk.refuse_used_pct": used / 2})
    assert cli.main(["run", "--day", "2024-08-09", "--vars", refuse, *QUICK]) == disk.EXIT_NO_SPACE
    err = capsys.readouterr().err
    assert "refused" in err and "disk.refuse_used_pct" in err and str(project.paths.duckdb_path.parent) in err
    assert not project.paths.duckdb_path.exists() and not project.paths.output_root.exists(), "wrote before refusing"
    warn = json.dumps({"disk.warn_used_pct": used / 2})
    assert cli.main(["run", "--day", "2024-08-09", "--vars", warn, *QUICK]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "disk.warn_used_pct" in err and "% used" in err


def test_each_runs_output_is_kept_in_a_log_rotated_at_utc_midnight(run_env, tmp_path, monkeypatch):
    project = run_env
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    folder = runlog.log_dir(project.paths)
    folder.mkdir(parents=True)
    # 20 older days of logs, and the current file last written three days ago
    for day in range(1, 21):
        (folder / f"lakeqa.log.2024-07-{day:02d}").write_text(f"the run of 2024-07-{day:02d}\n")
    current = folder / "lakeqa.log"
    current.write_text("the last run before today\n")
    three_days_ago = time.time() - 3 * 86400
    os.utime(current, (three_days_ago, three_days_ago))
    generate_lake(project.lake, date="2024-08-09", trades_per_day=20_000, progress=False)
    assert cli.main(["run", "--day", "2024-08-09", *QUICK]) == 0
    text = current.read_text()
    assert "lakeqa run: daily 2024-08-09" in text and "Finished running" in text, "the run or dbt's lines are missing"
    assert f"pid {os.getpid()}" in text and "the last run before today" not in text
    rolled = folder / f"lakeqa.log.{time.strftime('%Y-%m-%d', time.gmtime(three_days_ago))}"
    assert rolled.read_text() == "the last run before today\n"
    backups = sorted(p.name for p in folder.glob("lakeqa.log.*"))
    keep = int(project_defaults()["logs.keep_days"])
    assert len(backups) == keep and rolled.name in backups, backups  # the oldest went


def test_the_command_leaves_at_once_with_its_output_and_log_complete(run_env, tmp_path, monkeypatch):
    """`lakeqa` as its own process skips freeing the interpreter at exit (cli.entry_point): its exit code,
    its last lines and the run log's must still all be there."""
    project = run_env
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    generate_lake(project.lake, date="2024-08-09", trades_per_day=20_000, progress=False)
    done = subprocess.run([*LAKEQA, "run", "--day", "2024-08-09", *QUICK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.rstrip("\n").splitlines()[-1]
    assert last.strip(), done.stdout[-2000:]
    logged = (runlog.log_dir(project.paths) / "lakeqa.log").read_text().rstrip("\n").splitlines()
    assert logged[-1].endswith(last), (logged[-3:], last)
    missing = subprocess.run([*LAKEQA, "run", "--lake", str(tmp_path / "no-lake"), *QUICK], capture_output=True,
                             text=True)  # fmt: skip
    assert missing.returncode == 1 and "does not exist" in missing.stderr, missing
