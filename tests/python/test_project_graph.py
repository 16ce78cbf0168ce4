"""dbt's own graph (target/manifest.json of `dbt parse`) says what dbt-project-evaluator checks: every model
has a grain (primary-key) test, every test-worthy source has freshness, every model is tested. A model added
without a grain test fails here, not in a review."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lakeqa.dbt_runner import run_dbt
from lakeqa.settings import Paths, PROJECT_DIR

GRAIN_TEST_MACRO = "macro.lakeqa.test_lakeqa_unique_combination"

# Models without a unique key, on purpose; each says why in its yml description and tests its key columns
# not null instead.
NO_UNIQUE_KEY = {
    # klines as delivered: a minute delivered twice is two rows, for R5_CONTINUITY to report
    "stg_lake__klines_1m": ["symbol", "ts"],
    "klines_1m": ["symbol", "ts"],
    # one row per violation: two copies of one kline breaking a rule are two rows with the same key
    "violations": ["symbol", "ts", "rule", "severity", "source_table"],
    # context series as delivered: an hour or minute delivered twice is two rows, for R5_CONTINUITY to report
    "stg_lake__funding_oi_hourly": ["symbol", "ts"],
    "funding_oi_hourly": ["symbol", "ts"],
    "stg_lake__macro_minute": ["symbol", "ts"],
    "macro_minute": ["symbol", "ts"],
}

# Sources without freshness, on purpose (the reason is in _lake__sources.yml).
# optional datasets: most lakes have none, and their check could only fail; a context series' age says
# nothing about the crypto data (a market closed over the weekend)
NO_FRESHNESS = {"lake.bars_1s", "lake.funding_oi_hourly", "lake.macro_minute"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("graph")
    paths = Paths(project_dir=PROJECT_DIR, lake_root=tmp / "lake", duckdb_path=tmp / "graph.duckdb",
                  output_root=tmp / "output")
    outcome = run_dbt(["parse"], paths, quiet=True)
    assert outcome.success, "dbt parse failed"
    target = Path(os.environ.get("DBT_TARGET_PATH", PROJECT_DIR / "target"))
    return json.loads((target / "manifest.json").read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["package_name"] == "lakeqa"}


def _tests_on(manifest: dict, model_id: str) -> list[dict]:
    """The tests whose only model parent is `model_id` (a relationships test also depends on its target)."""
    tests = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        parents = [p for p in node["depends_on"]["nodes"] if p.startswith("model.")]
        if node.get("attached_node") == model_id or parents == [model_id]:
            tests.append(node)
    return tests


def _grain_tests(tests: list[dict]) -> list[str]:
    """Names of the tests that state a key: lakeqa_unique_combination, or unique + not_null on one column."""
    found = [t["name"] for t in tests if GRAIN_TEST_MACRO in t["depends_on"]["macros"]]
    by_column: dict[str, set[str]] = {}
    for t in tests:
        kind = (t.get("test_metadata") or {}).get("name")
        if kind in ("unique", "not_null") and t.get("column_name"):
            by_column.setdefault(t["column_name"], set()).add(kind)
    found += [f"unique + not_null on {c}" for c, kinds in by_column.items() if kinds == {"unique", "not_null"}]
    return found


def _not_null_columns(tests: list[dict]) -> set[str]:
    """The columns the tests check not null: dbt's not_null's column, lakeqa_not_null's `columns`."""
    columns = set()
    for t in tests:
        meta = t.get("test_metadata") or {}
        if meta.get("name") == "not_null":
            columns.add(t["column_name"])
        elif meta.get("name") == "lakeqa_not_null":
            columns.update(meta["kwargs"]["columns"])
    return columns


def test_not_null_columns_are_one_test_per_model(manifest):
    """A model's not-null columns are listed in one lakeqa_not_null test, not one dbt not_null test per column:
    every test is a dbt node, and dbt's work per node outweighs the scan (issue #15)."""
    per_model: dict[str, int] = {}
    per_column = []
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] == "test" and node["package_name"] == "lakeqa":
            if meta.get("name") == "not_null":
                per_column.append(node["name"])
            elif meta.get("name") == "lakeqa_not_null":
                per_model[node["attached_node"]] = per_model.get(node["attached_node"], 0) + 1
    assert not per_column, f"dbt not_null tests, one per column: {per_column}; list the columns in lakeqa_not_null"
    assert per_model, "no lakeqa_not_null test found"
    assert all(n == 1 for n in per_model.values()), f"more than one lakeqa_not_null on a model: {per_model}"


def test_every_model_has_a_grain_test(manifest):
    missing = []
    for name, node in sorted(_models(manifest).items()):
        if name in NO_UNIQUE_KEY:
            continue
        if not _grain_tests(_tests_on(manifest, node["unique_id"])):
            missing.append(name)
    assert not missing, (
        f"models without a grain test: {missing}. Attach lakeqa_unique_combination with the model's key "
        "(macros/tests/test_lakeqa_unique_combination.sql), or dbt's unique + not_null on a one-column key"
    )


def test_models_without_a_unique_key_say_why_and_test_their_key_columns(manifest):
    models = _models(manifest)
    for name, key_columns in NO_UNIQUE_KEY.items():
        node = models[name]
        tests = _tests_on(manifest, node["unique_id"])
        assert not _grain_tests(tests), f"{name} has a grain test now: take it off NO_UNIQUE_KEY"
        not_null = _not_null_columns(tests)
        assert set(key_columns) <= not_null, f"{name}: key columns not tested not null: {set(key_columns) - not_null}"
        description = " ".join(node["description"].split()).lower()
        assert "no unique key" in description or "no natural key" in description, (
            f"{name}: its description must say why it has no unique key"
        )


def test_every_model_is_tested(manifest):
    untested = [name for name, node in sorted(_models(manifest).items())
                if not _tests_on(manifest, node["unique_id"])]
    assert not untested, f"models without any test: {untested}"


def test_every_lake_source_has_freshness(manifest):
    for source in manifest["sources"].values():
        name = f"{source['source_name']}.{source['name']}"
        freshness = source.get("freshness") or {}
        counts = [(freshness.get(level) or {}).get("count") for level in ("warn_after", "error_after")]
        if name in NO_FRESHNESS:
            assert not any(counts), f"{name} has freshness now: take it off NO_FRESHNESS"
            continue
        assert all(counts), f"{name}: declare freshness warn_after and error_after"
        # source() is no table here (staging reads the lake through lakeqa_read_lake): a plain
        # loaded_at_field would query a relation that does not exist
        assert "lakeqa_lake_loaded_at" in (source.get("loaded_at_query") or ""), (
            f"{name}: freshness needs loaded_at_query: \"{{{{ lakeqa_lake_loaded_at(this, '<ts column>') }}}}\""
        )
