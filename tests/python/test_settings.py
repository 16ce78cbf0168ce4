"""Every setting is defined once (a var in dbt_project.yml); one key of a group can be overridden, on the
command line or in JSON, and the rest keep their defaults, in dbt's SQL, its Python models and lakeqa's
own Python steps alike."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from lakeqa.dbt_runner import run_dbt
from lakeqa.detectors import iforest, jump, zscore
from lakeqa.settings import (
    SettingsError,
    group_values,
    project_default,
    project_defaults,
    resolve_settings,
    setting,
)

GROUPS = ("zscore", "jump", "iforest", "fusion", "reporting", "freshness")


# ------------------------------------------------------------------------------------------ in Python


def test_every_group_is_flat_keys_in_dbt_project_yml():
    defaults = project_defaults()
    for group in GROUPS:
        keys = [name for name in defaults if name.startswith(group + ".")]
        assert keys, f"no setting of group {group} in dbt_project.yml"
        assert group not in defaults, f"{group} must not be a mapping var: dbt would replace it whole"


@pytest.mark.parametrize(
    "override",
    [{"fusion": {"pass_score": 0.9}}, {"fusion.pass_score": 0.9}],
    ids=["nested", "flat"],
)
def test_one_key_overridden_the_rest_keep_their_defaults(override):
    resolved = resolve_settings(override)
    assert resolved["fusion.pass_score"] == 0.9
    assert resolved["fusion.review_score"] == project_default("fusion.review_score") == 0.65
    assert resolved["fusion.weight_schema"] == 0.7
    assert resolved["zscore.k"] == project_default("zscore.k")


def test_nested_wins_over_flat_and_unknown_keys_are_refused():
    assert setting("zscore.k", {"zscore.k": 6, "zscore": {"k": 7}}) == 7
    with pytest.raises(SettingsError, match="unknown setting 'fusion.pas_score'"):
        resolve_settings({"fusion": {"pas_score": 0.9}})
    with pytest.raises(SettingsError, match="unknown setting 'zscore.kk'"):
        resolve_settings({"zscore.kk": 1})
    with pytest.raises(SettingsError, match="group of settings"):
        resolve_settings({"fusion": 0.9})


def test_detector_parameters_default_to_dbt_project_yml():
    assert zscore.ZScoreParams().k == project_default("zscore.k")
    assert jump.JumpParams().k_sigma == project_default("jump.k_sigma")
    assert iforest.IForestParams().n_estimators == project_default("iforest.n_estimators")
    assert zscore.ZScoreParams.from_vars({"k": 6}).cooldown_seconds == project_default("jump.cooldown_seconds")


def test_group_values_merges_an_override_into_the_flat_values():
    flat = {"k": 5.0, "min_obs": 300}
    assert group_values("zscore", flat, {}) == flat
    assert group_values("zscore", flat, {"k": 6}) == {"k": 6, "min_obs": 300}
    with pytest.raises(SettingsError, match="zscore.kk"):
        group_values("zscore", flat, {"kk": 6})


# ------------------------------------------------------------------------------------------ in dbt


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory):
    from tests.python.conftest import DbtProject
    from lakeqa.generate import generate_lake

    project = DbtProject(tmp_path_factory.mktemp("settings"))
    generate_lake(project.lake, date="2024-08-09", days=1, symbols=3, trades_per_day=5_000, progress=False)
    return project


def _compile(project, vars: dict) -> dict:
    """Compile the nodes that read settings with ``vars``; returns the manifest's nodes by name."""
    outcome = run_dbt(
        ["compile", "--select", "fusion", "bar_features", "bar_features_per_second", "rule_catalog", "violations",
         "anomalies_zscore", "anomalies_jump", "anomalies_iforest", "bar_scores", "test_name:r6_spread_sanity",
         "--vars", json.dumps({"day": "2024-08-09", **vars})],
        project.paths,
        quiet=True,
    )
    assert outcome.success, [(r.node.name, r.message) for r in outcome.results if str(r.status) != "success"]
    target = Path(os.environ["DBT_TARGET_PATH"])
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = {node["name"]: node for node in manifest["nodes"].values()}
    # whitespace folded: the assertions are about values, not layout
    compiled = {r.node.name: " ".join(r.node.compiled_code.split()) for r in outcome.results}
    return nodes, compiled


@pytest.mark.e2e
@pytest.mark.parametrize(
    "override",
    [{"fusion": {"pass_score": 0.91}}, {"fusion.pass_score": 0.91}],
    ids=["nested", "flat"],
)
def test_one_fusion_key_reaches_sql_and_the_rest_keep_defaults(tiny_project, override):
    _, compiled = _compile(tiny_project, override)
    sql = compiled["fusion"]
    assert "score < 0.91" in sql and "score < 0.85" not in sql
    assert "score < 0.65" in sql, "review_score kept its default"
    assert "0.7 * schema_score" in sql and "0.2 * detector_score" in sql


@pytest.mark.e2e
def test_weights_and_schema_constants_are_settings(tiny_project):
    _, compiled = _compile(tiny_project, {"fusion": {"weight_schema": 0.6, "weight_ai": 0.2, "major_weight": 0.5}})
    sql = compiled["fusion"]
    assert "0.6 * schema_score" in sql and "0.2 * ai_confidence" in sql and "0.5 * n_violations_major" in sql
    assert "'weights': {'schema': 0.6, 'detector': 0.2, 'ai': 0.2}" in sql


@pytest.mark.e2e
def test_one_detector_key_reaches_the_python_models(tiny_project):
    nodes, compiled = _compile(
        tiny_project, {"zscore": {"k": 6.5}, "jump.k_sigma": 9, "iforest": {"n_estimators": 50}}
    )
    meta = {name: nodes[name]["config"]["meta"] for name in ("anomalies_zscore", "anomalies_jump", "anomalies_iforest")}
    z = zscore.ZScoreParams.from_vars(group_values("zscore", meta["anomalies_zscore"]["zscore"],
                                                   meta["anomalies_zscore"]["zscore_override"]))
    assert z.k == 6.5 and z.cooldown_seconds == project_default("jump.cooldown_seconds")
    # the score's settings reach the SQL of bar_scores (the candidates' k too)
    assert "cast('6.5' as double)" in compiled["bar_scores"] and "cast('9.0' as double)" in compiled["bar_scores"]
    assert f"trailing_n >= {int(project_default('zscore.min_obs'))}" in compiled["bar_scores"]
    j = jump.JumpParams.from_vars(group_values("jump", meta["anomalies_jump"]["jump"],
                                               meta["anomalies_jump"]["jump_override"]))
    assert j.k_sigma == 9 and j.cooldown_seconds == project_default("jump.cooldown_seconds")
    f = iforest.IForestParams.from_vars(group_values("iforest", meta["anomalies_iforest"]["iforest"],
                                                     meta["anomalies_iforest"]["iforest_override"]))
    assert f.n_estimators == 50 and f.contamination == project_default("iforest.contamination")
    # zscore.window_s reaches the features' SQL from its default
    assert f"interval {project_default('zscore.window_s')} second" in compiled["bar_features_per_second"]


@pytest.mark.e2e
def test_a_rule_threshold_setting_reaches_its_test_violations_and_the_catalog(tiny_project):
    _, compiled = _compile(tiny_project, {"rule_max_spread_bps": 321})
    r6_tests = [sql for name, sql in compiled.items() if name.startswith("r6_spread_sanity")]
    assert r6_tests and all("spread_bps >= 321.0" in sql for sql in r6_tests)
    assert "spread_bps >= 321.0" in compiled["violations"] and "spread_bps >= 500" not in compiled["violations"]
    assert "cast(321.0 as double) as threshold" in compiled["rule_catalog"]


@pytest.mark.e2e
def test_an_unknown_nested_key_stops_the_compile_with_its_name(tiny_project):
    from lakeqa.dbt_runner import DbtError

    try:
        outcome = run_dbt(["compile", "--select", "fusion", "--vars", json.dumps({"fusion": {"pas_score": 1}})],
                          tiny_project.paths, quiet=True)
    except DbtError as exc:
        assert "fusion.pas_score" in str(exc)
    else:
        assert not outcome.success
        assert any("fusion.pas_score" in (r.message or "") for r in outcome.results)


@pytest.mark.parametrize(
    "vars, minutes",
    [(None, project_default("hourly_window_min")), ('{"hourly_window_min": 30}', 30)],
    ids=["default", "override"],
)
def test_the_runs_hourly_window_is_the_setting(vars, minutes, tmp_path):
    import argparse
    import datetime as dt

    from lakeqa.run import Window

    args = argparse.Namespace(mode="hourly", day=None, from_day=None, to_day=None,
                              hourly_end="2024-08-10 00:30", vars=vars)
    label = Window.from_args(args, tmp_path).label  # "hourly 2024-08-09 23:00..00:30 UTC"
    start = dt.datetime.strptime(label.split("..")[0].removeprefix("hourly "), "%Y-%m-%d %H:%M")
    assert dt.datetime(2024, 8, 10, 0, 30) - start == dt.timedelta(minutes=minutes)


@pytest.mark.e2e
def test_iforest_enabled_is_a_boolean_setting_and_reaches_the_fusion(tiny_project):
    from lakeqa.dbt_runner import DbtError

    # text from a command line counts; IsolationForest's contamination leaves the allowance, its reason enters
    def background_rate(sql: str) -> float:
        return float(re.search(r"n_bars \* ([0-9.e+-]+) as expected_anomalies", sql).group(1))

    _, off = _compile(tiny_project, {"iforest.enabled": "false"})
    _, on = _compile(tiny_project, {})
    assert "IsolationForest off: setting iforest.enabled is false" in off["fusion"]
    assert "IsolationForest off" not in on["fusion"]
    assert background_rate(on["fusion"]) - background_rate(off["fusion"]) == pytest.approx(
        project_default("iforest.contamination"))
    try:
        outcome = run_dbt(["compile", "--select", "fusion", "--vars", json.dumps({"iforest": {"enabled": "maybe"}})],
                          tiny_project.paths, quiet=True)
    except DbtError as exc:
        assert "iforest.enabled" in str(exc) and "true or false" in str(exc)
    else:
        assert not outcome.success
        assert any("iforest.enabled" in (r.message or "") for r in outcome.results)
