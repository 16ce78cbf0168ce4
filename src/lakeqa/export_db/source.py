"""What export-db copies: a mart's columns as the published DuckDB file holds them, and its primary key.

The key is the grain the mart's yml declares with `lakeqa_unique_combination` (models/marts/*/_*.yml), the
one place a grain is written. It becomes a primary key only where the grain always holds: where dbt fails
the build on a duplicate. A grain test that only warns (compare_our_vs_kline_1m reconciles a minute the
exchange delivered twice once per copy; bars_1s and anomalies with var `use_prebuilt_bars`, whose lake may
store a bar twice) gives no key, since the target would then refuse rows the mart rightly holds. A
templated severity is read with the project's defaults (dbt_project.yml).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import jinja2
import yaml

from lakeqa.settings import PROJECT_DIR, project_defaults

# the marts an analyst or a dashboard reads from a SQL database (README "Exports to Postgres and SQLite")
DEFAULT_TABLES = ("bars_1s", "bars_1m", "klines_1m", "compare_our_vs_kline_1m", "violations", "anomalies", "fusion")
# every exported mart has these: the window is replaced by `date`, and indexed by symbol and time
REQUIRED_COLUMNS = ("symbol", "ts", "date")


class ExportError(ValueError):
    """An export that cannot go on: the message names the table, the day or the target."""


@dataclass(frozen=True)
class Column:
    name: str
    duckdb_type: str  # as information_schema.columns writes it: VARCHAR, TIMESTAMP, DOUBLE, ...


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] | None  # the primary key in the target, None where the grain may not hold

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _marts_yml(project_dir: Path) -> dict[str, dict]:
    models: dict[str, dict] = {}
    for path in sorted((Path(project_dir) / "models" / "marts").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            models[model["name"]] = model
    return models


def _severity(config: dict, settings: dict) -> str:
    text = str(config.get("severity", "error"))
    if "{{" in text:
        text = jinja2.Template(text).render(var=lambda name, default=None: settings.get(name, default))
    return text.strip().lower()


def declared_key(model: dict, settings: dict) -> tuple[str, ...] | None:
    """The model's grain when a duplicate of it fails dbt's build, else None."""
    for test in model.get("data_tests") or []:
        if isinstance(test, dict) and "lakeqa_unique_combination" in test:
            spec = test["lakeqa_unique_combination"] or {}
            if _severity(spec.get("config") or {}, settings) == "error":
                return tuple(spec["arguments"]["combination_of_columns"])
    return None


def read_tables(con: duckdb.DuckDBPyConnection, names: list[str], project_dir: Path = PROJECT_DIR) -> list[Table]:
    """The named marts as the DuckDB file holds them; ExportError for a name that is not an exported mart."""
    models = _marts_yml(project_dir)
    settings = project_defaults(project_dir)
    tables = []
    for name in names:
        if name not in models:
            raise ExportError(f"unknown table {name!r}; the marts export-db copies are: {', '.join(DEFAULT_TABLES)}")
        rows = con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'main' and table_name = ? order by ordinal_position", [name]).fetchall()  # fmt: skip
        if not rows:
            raise ExportError(f"the DuckDB file holds no table {name} yet; build a day first (lakeqa run)")
        columns = tuple(Column(n, t) for n, t in rows)
        missing = [c for c in REQUIRED_COLUMNS if c not in {col.name for col in columns}]
        if missing:
            raise ExportError(f"{name} has no {', '.join(missing)} column: export-db copies marts of a "
                              f"symbol-and-time grain ({', '.join(DEFAULT_TABLES)})")  # fmt: skip
        tables.append(Table(name, columns, declared_key(models[name], settings)))
    return tables


def day_counts(con: duckdb.DuckDBPyConnection, table: Table, first: str, last: str) -> dict[str, int]:
    """Rows per UTC day of the window, as text days (YYYY-MM-DD)."""
    quoted = '"' + table.name.replace('"', '""') + '"'
    return dict(con.execute(
        f"select cast(date as varchar), count(*) from {quoted}"
        " where date between cast(? as date) and cast(? as date) group by 1", [first, last]).fetchall())  # fmt: skip


def check_target_columns(label: str, table: Table, existing: list[str]) -> None:
    """A target table of other columns (an older lakeqa's export) is refused, never altered."""
    if existing and existing != table.column_names:
        raise ExportError(
            f"{label}: table {table.name} has columns ({', '.join(existing)}) but the mart has "
            f"({', '.join(table.column_names)}); drop it (an older lakeqa's export) or export elsewhere")


def duplicate_key_error(label: str, table: Table, detail: str) -> ExportError:
    return ExportError(
        f"{label}: {table.name} holds a ({', '.join(table.key or ())}) twice in the window, which its primary "
        f"key refuses; nothing of {table.name} was replaced ({detail})")
