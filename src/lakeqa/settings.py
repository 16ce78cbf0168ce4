"""Where things are (the dbt project, the lake, the DuckDB file, the output folder) and what the settings are.

Paths: each comes from its environment variable (DESIGN.md) with a default inside the project, and is made
absolute here once, so dbt, DuckDB, the exports, GE and the report agree whatever the working directory.

Settings: every tunable is a dbt var with its default in ``dbt_project.yml`` (the one place). Grouped
settings are flat keys named ``group.key`` (``fusion.pass_score``), because dbt replaces a mapping var
whole: a nested default would lose every other key as soon as one was overridden. An override may name
the flat key (``{"fusion.pass_score": 0.9}``) or nest it (``{"fusion": {"pass_score": 0.9}}``); both set
that key alone and the rest keep their defaults. ``resolve_settings`` applies exactly the rules of the
dbt macro ``lakeqa_setting`` (macros/settings/lakeqa_setting.sql), so the Python steps read the values
dbt reads; tests/python/test_settings.py proves they agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(os.environ.get("LAKEQA_PROJECT_DIR", Path(__file__).resolve().parents[2]))

class SettingsError(ValueError):
    """An override names a setting that does not exist, or gives a group something other than a mapping."""


@dataclass(frozen=True)
class Paths:
    project_dir: Path
    lake_root: Path
    duckdb_path: Path
    output_root: Path

    @classmethod
    def from_env(cls, lake_root=None, duckdb_path=None, output_root=None) -> Paths:
        """Each path from the argument if given, else its environment variable, else the project's default;
        a relative path is taken from the current folder. Every command resolves its paths here."""

        def pick(value, env, default):
            chosen = value or os.environ.get(env) or default
            path = Path(chosen)
            return path if path.is_absolute() else (Path.cwd() / path)

        return cls(
            project_dir=PROJECT_DIR,
            lake_root=pick(lake_root, "LAKE_ROOT", PROJECT_DIR / "lake").resolve(),
            duckdb_path=pick(duckdb_path, "DUCKDB_PATH", PROJECT_DIR / "lakeqa.duckdb").resolve(),
            output_root=pick(output_root, "QA_OUTPUT_ROOT", PROJECT_DIR / "output").resolve(),
        )

    def env(self) -> dict[str, str]:
        return {
            "LAKE_ROOT": str(self.lake_root),
            "DUCKDB_PATH": str(self.duckdb_path),
            "QA_OUTPUT_ROOT": str(self.output_root),
        }


@lru_cache(maxsize=4)
def _project_vars(project_file: Path, mtime_ns: int) -> dict[str, Any]:
    import yaml

    with project_file.open(encoding="utf-8") as fh:
        project = yaml.safe_load(fh) or {}
    return dict(project.get("vars") or {})


def project_defaults(project_dir: Path | None = None) -> dict[str, Any]:
    """Every var's default as written in dbt_project.yml (flat keys; ``group.key`` for grouped settings)."""
    project_file = Path(project_dir or PROJECT_DIR) / "dbt_project.yml"
    return dict(_project_vars(project_file, project_file.stat().st_mtime_ns))


def resolve_settings(overrides: dict | None = None, project_dir: Path | None = None) -> dict[str, Any]:
    """The defaults of dbt_project.yml with ``overrides`` (the --vars a run was given) applied key by key.

    A nested override ``{"fusion": {"pass_score": 0.9}}`` sets ``fusion.pass_score`` and nothing else; a
    flat ``{"fusion.pass_score": 0.9}`` does the same (a nested value wins over a flat one, as in the dbt
    macro). A key that is not a setting of the project is an error (a typo would otherwise be ignored),
    except the window vars and keys no group claims (dbt accepts any var; lakeqa reads only its own)."""
    settings = project_defaults(project_dir)
    groups = {name.split(".", 1)[0] for name in settings if "." in name}
    nested: dict[str, dict] = {}
    for key, value in (overrides or {}).items():
        group = key.split(".", 1)[0]
        if key in groups:
            nested[key] = value
        elif "." in key and group in groups and key not in settings:
            raise SettingsError(f"unknown setting {key!r}; {group} has: {', '.join(_keys_of(settings, group))}")
        else:
            settings[key] = value
    # nested last: it wins over a flat override of the same key, as in the macro
    for group, override in nested.items():
        flat = {key: settings[f"{group}.{key}"] for key in _keys_of(settings, group)}
        settings.update({f"{group}.{key}": value for key, value in group_values(group, flat, override).items()})
    return settings


def _keys_of(settings: dict, group: str) -> list[str]:
    return [name.split(".", 1)[1] for name in settings if name.startswith(group + ".")]


def group_values(group: str, flat: dict | None, override: dict | None) -> dict[str, Any]:
    """A settings group's values: ``flat`` holds each key as resolved from its flat var (``group.key``),
    ``override`` the nested var ``group`` if one was given; the override wins key by key, as in the macro
    lakeqa_setting. A key of the override that ``flat`` lacks is an error. Used by resolve_settings and by
    the dbt Python models (which get both halves through config.meta)."""
    values = dict(flat or {})
    if override in (None, "", {}):
        return values
    if not isinstance(override, dict):
        example = next(iter(values), "key")
        raise SettingsError(
            f"var {group!r} is a group of settings; give one of its keys, e.g. {{{group!r}: {{{example!r}: ...}}}}"
            f" or {{'{group}.{example}': ...}}, got {override!r}"
        )
    for key in override:
        if key not in values:
            raise SettingsError(f"unknown setting '{group}.{key}'; {group} has: {', '.join(values)}")
    return {**values, **override}


def project_default(name: str) -> Any:
    """The default of setting ``name`` as written in dbt_project.yml: the only place a default lives (the
    detectors' parameter classes take theirs from here)."""
    defaults = project_defaults()
    if name not in defaults:
        raise SettingsError(f"unknown setting {name!r} (not a var in dbt_project.yml)")
    return defaults[name]


def setting(name: str, overrides: dict | None = None) -> Any:
    """One resolved setting, e.g. ``setting("reporting.anomalies_top_n", vars)``."""
    settings = resolve_settings(overrides)
    if name not in settings:
        raise SettingsError(f"unknown setting {name!r} (not a var in dbt_project.yml)")
    return settings[name]
