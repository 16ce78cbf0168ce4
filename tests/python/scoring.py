"""The SQL of models/detectors/bar_scores.sql run on feature rows in DuckDB, without dbt: the module tests
feed the detectors with the scores of the very SQL the project builds (jinja renders the model with ref()
pointing at the given frame and the settings from dbt_project.yml, or overrides)."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import jinja2
import pandas as pd

from lakeqa.settings import PROJECT_DIR, project_default

MODEL = PROJECT_DIR / "models" / "detectors" / "bar_scores.sql"


def bar_scores(features: pd.DataFrame, settings: Mapping | None = None) -> pd.DataFrame:
    """The bar_scores rows of `features` (bar_features-shaped rows); `settings`: setting name -> value
    overriding its dbt_project.yml default (e.g. {"zscore.min_obs": 200})."""
    given = dict(settings or {})

    def setting_number(name: str) -> float:
        return float(given[name] if name in given else project_default(name))

    sql = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(MODEL.read_text()).render(
        config=lambda **_: "", ref=lambda _name: "features", lakeqa_setting_number=setting_number,
        # the duckdb__ branch of the engine macro (macros/engine/lakeqa_engine_sql.sql)
        lakeqa_isfinite=lambda expr: f"isfinite({expr})",
    )
    con = duckdb.connect()
    try:
        con.register("features", features)
        return con.execute(f"select * from ({sql}) order by symbol, ts, detector").df()
    finally:
        con.close()
