"""The exposures' links in dbt docs (models/exposures.yml) point at the files `lakeqa run` writes under
its output root: the report folder, the GE Data Docs index, the folder of the QA files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from lakeqa import exports
from lakeqa.dbt_runner import run_dbt
from lakeqa.report.context import output_files
from lakeqa.report.render import GE_DATA_DOCS
from lakeqa.settings import PROJECT_DIR, Paths

pytestmark = pytest.mark.e2e

DAY = "2024-08-09"


def exposure_urls(paths: Paths) -> dict[str, str]:
    """`dbt parse` the project with ``paths`` in the environment; each exposure's url from the manifest."""
    outcome = run_dbt(["parse"], paths, quiet=True)
    assert outcome.success, "dbt parse failed"
    manifest = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json").read_text())
    return {e["name"]: e["url"] for e in manifest["exposures"].values()}


def url_path(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file" and parsed.netloc == "", f"not an absolute file URL: {url}"
    return Path(unquote(parsed.path))


def test_exposure_urls_point_at_what_the_run_writes_under_its_output_root(tmp_path):
    # a space and a '#' in the folder: the url must be percent-encoded to open what it names
    root = tmp_path / "qa out #1"
    paths = Paths(PROJECT_DIR, tmp_path / "lake", tmp_path / "qa.duckdb", root)
    paths.lake_root.mkdir()
    urls = exposure_urls(paths)
    assert urls == {
        "daily_qa_report": (root / "reports" / "qa").as_uri() + "/",
        "great_expectations_data_docs": (root / GE_DATA_DOCS).as_uri(),
        "qa_files": (root / "qa").as_uri() + "/",
    }
    # ... and those are where the writers put the day's files
    report_dir = url_path(urls["daily_qa_report"])
    reports = [
        root / f["path"]
        for mode in ("daily", "hourly")
        for f in output_files(DAY, mode, root)
        if f["path"].startswith("reports/")
    ]
    assert reports and all(path.parent == report_dir for path in reports)
    qa_dir = url_path(urls["qa_files"])
    for path in (
        exports.violations_path(root, DAY),
        exports.anomalies_path(root, DAY),
        exports.fusion_path(root, DAY),
        exports.fusion_path(root, DAY, "hourly"),
    ):
        assert qa_dir in path.parents, path
    assert url_path(urls["great_expectations_data_docs"]) == root / GE_DATA_DOCS


class _WithoutOutputRoot(Paths):
    """Paths whose environment for dbt leaves QA_OUTPUT_ROOT unset, as when a person runs dbt directly."""

    def env(self) -> dict[str, str]:
        return {k: v for k, v in super().env().items() if k != "QA_OUTPUT_ROOT"}


def test_without_qa_output_root_the_urls_are_the_default_layout(tmp_path, monkeypatch):
    # `make docs` / `dbt docs generate` from the project folder, QA_OUTPUT_ROOT unset: the links are the
    # default output root, the one `lakeqa run` uses without the variable (the project's output/)
    monkeypatch.delenv("QA_OUTPUT_ROOT", raising=False)
    monkeypatch.chdir(PROJECT_DIR)
    monkeypatch.setenv("PWD", str(PROJECT_DIR.resolve()))
    default_root = Paths.from_env().output_root
    assert default_root == PROJECT_DIR.resolve() / "output"
    (tmp_path / "lake").mkdir()
    paths = _WithoutOutputRoot(PROJECT_DIR, tmp_path / "lake", tmp_path / "qa.duckdb", tmp_path / "unused")
    urls = exposure_urls(paths)
    assert url_path(urls["daily_qa_report"]) == default_root / "reports" / "qa"
    assert url_path(urls["great_expectations_data_docs"]) == default_root / GE_DATA_DOCS
    assert url_path(urls["qa_files"]) == default_root / "qa"
