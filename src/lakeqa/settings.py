"""Where things are: the dbt project, the lake, the DuckDB file and the output folder.

Each comes from its environment variable (DESIGN.md) with a default inside the project, and is made
absolute here once, so dbt, DuckDB and the exports agree whatever the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("LAKEQA_PROJECT_DIR", Path(__file__).resolve().parents[2]))


@dataclass(frozen=True)
class Paths:
    project_dir: Path
    lake_root: Path
    duckdb_path: Path
    output_root: Path

    @classmethod
    def from_env(cls, lake_root=None, duckdb_path=None, output_root=None) -> Paths:
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
