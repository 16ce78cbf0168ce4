"""Every command finds the lake, the DuckDB file and the output root the same way: the argument, else the
environment variable, else the project's default (lakeqa.settings.Paths.from_env) — never the folder the
command happens to be started from."""

from __future__ import annotations

import argparse
import shutil

import pytest

from lakeqa import cli, settings
from lakeqa.settings import Paths

from tests.python.importer_fixtures import csv_text, trade_rows, write

PATH_OPTIONS = ("--lake", "--duckdb", "--output")
ENV_VARS = ("LAKE_ROOT", "DUCKDB_PATH", "QA_OUTPUT_ROOT")

def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def path_defaults(parser: argparse.ArgumentParser) -> dict[str, object]:
    return {
        option: action.default
        for action in parser._actions
        for option in action.option_strings
        if option in PATH_OPTIONS
    }


def _params():
    for name in sorted(subcommands()):
        yield pytest.param(name, id=name)


@pytest.fixture
def no_path_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def test_the_commands_that_take_paths_are_the_ones_expected():
    # a new command with a path option is covered by the test below; this says which ones are today
    taking = {name for name, parser in subcommands().items() if path_defaults(parser)}
    assert taking >= {"run", "ge", "report", "generate", "import"}
    assert set(path_defaults(subcommands()["run"])) == set(PATH_OPTIONS)


@pytest.mark.parametrize("name", list(_params()))
def test_path_options_default_to_none_so_that_paths_from_env_decides(name, no_path_env):
    # a default computed when the parser is built ("./output", or os.environ read then) bypasses
    # Paths.from_env: another command given the same environment would look elsewhere
    defaults = path_defaults(subcommands()[name])
    assert all(value is None for value in defaults.values()), defaults


@pytest.fixture
def elsewhere(tmp_path, monkeypatch, no_path_env):
    """A project folder of its own (so that defaults land in tmp) and a different current folder."""
    project = tmp_path / "project"
    project.mkdir()
    # the settings' defaults (read by report, run) stay the real project's
    shutil.copy(settings.PROJECT_DIR / "dbt_project.yml", project / "dbt_project.yml")
    monkeypatch.setattr(settings, "PROJECT_DIR", project)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return project, cwd


def test_run_looks_for_the_projects_lake(elsewhere, capsys):
    project, cwd = elsewhere
    assert Paths.from_env().lake_root == project.resolve() / "lake"
    assert cli.main(["run", "--day", "2024-08-09", "--skip", "docs"]) == 1
    err = capsys.readouterr().err
    assert str(project.resolve() / "lake") in err and str(cwd / "lake") not in err


def test_generate_writes_the_projects_lake(elsewhere):
    project, cwd = elsewhere
    args = ["generate", "--date", "2024-08-09", "--symbol-list", "BTCUSDT", "--trades-per-day", "2000",
            "--no-quotes", "--no-klines", "--quiet"]  # fmt: skip
    assert cli.main(args) == 0
    assert list((project / "lake" / "trades").rglob("*.parquet"))
    assert not (cwd / "lake").exists()


def test_import_writes_the_projects_lake(elsewhere, tmp_path):
    project, cwd = elsewhere
    src = write(tmp_path / "BTCUSDT-trades-2024-08-09.csv", csv_text(trade_rows(3)))
    assert cli.main(["import", str(src), "--quiet"]) == 0
    assert [p.name for p in (project / "lake").rglob("*.parquet")] == [
        "BTCUSDT-trades-2024-08-09.binance-trades.parquet"
    ]
    assert not (cwd / "lake").exists()


def test_report_looks_for_the_projects_duckdb_file(elsewhere, capsys):
    project, cwd = elsewhere
    assert cli.main(["report", "--day", "2024-08-09"]) != 0
    assert str(project.resolve() / "lakeqa.duckdb") in capsys.readouterr().err
