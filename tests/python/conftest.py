"""Shared fixtures: where the real data is, and a dbt build against a temporary lake and DuckDB file."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from lakeqa.dbt_runner import run_dbt
from lakeqa.settings import PROJECT_DIR, Paths

SHARED = Path(os.environ.get("LAKEQA_SHARED", PROJECT_DIR.parent / "shared"))
REAL = SHARED / "data" / "real"
SAMPLE = PROJECT_DIR / "data" / "sample"


def real_data(*parts: str) -> Path:
    """A path under ../shared/data/real, or a skip saying why when that folder is not beside the checkout."""
    path = REAL.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data {path} is absent (../shared is not beside the checkout)")
    return path


class DbtProject:
    """One temporary DuckDB file, lake and output root, and a dbt build against them."""

    def __init__(self, tmp: Path):
        self.paths = Paths(
            project_dir=PROJECT_DIR,
            lake_root=tmp / "lake",
            duckdb_path=tmp / "qa.duckdb",
            output_root=tmp / "output",
        )
        self.lake = self.paths.lake_root
        self.lake.mkdir(parents=True, exist_ok=True)

    def build(self, vars: dict | None = None, select: str = "tag:daily", expect_success: bool = True,
              callbacks: list | None = None):
        import json

        args = ["build", "--select", select]
        if vars:
            args += ["--vars", json.dumps(vars)]
        outcome = run_dbt(args, self.paths, quiet=True, callbacks=callbacks)
        if expect_success:
            bad = {n: s for n, s in outcome.statuses().items() if s in ("error", "fail", "skipped")}
            assert outcome.success and not bad, f"dbt build failed: {bad}"
        return outcome

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.paths.duckdb_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def df(self, sql: str):
        con = duckdb.connect(str(self.paths.duckdb_path), read_only=True)
        try:
            return con.execute(sql).df()
        finally:
            con.close()


@pytest.fixture(scope="session", autouse=True)
def _dbt_private_paths(tmp_path_factory):
    """dbt's target/ and logs/ of the test run go to a temp folder, not the developer's."""
    base = tmp_path_factory.mktemp("dbt")
    saved = {k: os.environ.get(k) for k in ("DBT_TARGET_PATH", "DBT_LOG_PATH")}
    os.environ["DBT_TARGET_PATH"] = str(base / "target")
    os.environ["DBT_LOG_PATH"] = str(base / "logs")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def dbt_project(tmp_path) -> DbtProject:
    return DbtProject(tmp_path)


@pytest.fixture
def run_env(dbt_project, monkeypatch):
    """A DbtProject whose lake, DuckDB file and output root are also the environment's (LAKE_ROOT,
    DUCKDB_PATH, QA_OUTPUT_ROOT), as `lakeqa` commands and their child processes find them."""
    for name, value in dbt_project.paths.env().items():
        monkeypatch.setenv(name, value)
    return dbt_project


@pytest.fixture(scope="session")
def faulted_lake_build(tmp_path_factory, _dbt_private_paths):
    """Two generated days (2024-08-08 clean, 2024-08-09 with every fault), built in one range run."""
    from lakeqa.generate import generate_lake

    project = DbtProject(tmp_path_factory.mktemp("faulted"))
    report = generate_lake(
        project.lake, date="2024-08-09", days=2, trades_per_day=200_000, faults="all", progress=False
    )
    project.ground_truth = report.ground_truth
    # the nodes in the order dbt started them (test_dbt_runner.py)
    project.node_starts = []

    def record_start(event) -> None:
        if event.info.name == "NodeStart":
            project.node_starts.append(event.data.node_info.unique_id)

    project.build({"from": "2024-08-08", "to": "2024-08-09"}, callbacks=[record_start])
    return project
