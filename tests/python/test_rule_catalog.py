"""The rule catalog (macros/rules/_lakeqa_rule_catalog.sql) is the one definition of the rules; the yml
`data_tests` are the one place they are attached; everything else is generated from those two."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lakeqa.settings import PROJECT_DIR, project_default

RULE_MACROS = PROJECT_DIR / "macros" / "rules"
DESIGN = {
    "R1_OHLC_ORDER": "critical",
    "R2_POSITIVE_PRICE": "critical",
    "R3_ASK_GE_BID": "major",
    "R4_NO_NAN": "critical",
    "R5_CONTINUITY": "critical",
    "R6_SPREAD_SANITY": "major",
    "R7_KLINE_PARITY": "minor",
    "NEG_VOLUME": "major",
    # completeness (README "How completeness is judged")
    "C1_TRADE_GAP": "critical",
    "C2_QUOTE_GAP": "major",
    "C3_KLINE_WITNESS": "critical",
    "C4_MISSING_DATASET": "major",
    "C5_ROW_DROP": "critical",
    "C6_NULL_SHARE": "major",
    "C7_STALE_BOOK": "major",
    "C8_CLOCK_OFFSET": "critical",
    "C9_PRICE_SCALE": "critical",
    "C10_QUARANTINED_FILE": "critical",
}


def _manifest() -> dict:
    return json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json").read_text())


@pytest.mark.e2e
def test_catalog_table_has_every_rule_of_the_design_with_its_severity(faulted_lake_build):
    rows = faulted_lake_build.query("select rule_id, severity from rule_catalog")
    assert dict(rows) == DESIGN


@pytest.mark.e2e
def test_every_rule_has_its_generic_test_file_and_is_attached_somewhere(faulted_lake_build):
    for test_name, applies_to in faulted_lake_build.query("select test_name, applies_to from rule_catalog"):
        # its own macros/rules/test_<name>.sql, or, for the completeness rules that share one shape, a test
        # block in macros/rules/test_completeness_rules.sql
        own = RULE_MACROS / f"test_{test_name}.sql"
        shared = (RULE_MACROS / "test_completeness_rules.sql").read_text()
        assert own.is_file() or f"{{% test {test_name}(model) %}}" in shared, f"no generic test {test_name}"
        assert applies_to, f"{test_name} is attached to no model"


@pytest.mark.e2e
def test_catalog_applies_to_is_what_the_yml_attaches(faulted_lake_build):
    attached: dict[str, set[str]] = {}
    for node in _manifest()["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] == "test" and meta.get("name", "")[:2] in {"r1", "r2", "r3", "r4", "r5", "r6", "r7", "ne", "c1", "c2",
                                               "c3", "c4", "c5", "c6", "c7", "c8", "c9"}:
            model = node["attached_node"].split(".")[-1]
            attached.setdefault(meta["name"], set()).add(model)
    catalog = dict(faulted_lake_build.query("select test_name, applies_to from rule_catalog"))
    assert {name: set(tables.split()) for name, tables in catalog.items()} == {
        name: tables for name, tables in attached.items() if name in catalog
    }
    # and violations reports them on exactly those tables (where faults were injected)
    per_rule = faulted_lake_build.query(
        "select c.test_name, list(distinct v.source_table) from violations v join rule_catalog c"
        " on v.rule = c.rule_id group by all"
    )
    for test_name, tables in per_rule:
        assert set(tables) <= set(catalog[test_name].split())


@pytest.mark.e2e
def test_thresholds_come_from_their_setting_with_no_second_default(faulted_lake_build):
    rows = faulted_lake_build.query("select threshold_var, threshold from rule_catalog where threshold_var is not null")
    assert rows
    for var, threshold in rows:
        assert threshold == float(project_default(var)), var
    assert "threshold_default" not in {c for (c,) in faulted_lake_build.query(
        "select column_name from information_schema.columns where table_name = 'rule_catalog'")}


@pytest.mark.e2e
def test_test_severity_follows_the_catalog_at_parse_time(faulted_lake_build):
    """Critical rules warn by default; with rules_critical_as_error the catalog's critical ones (and only
    those) error. Severity is a parse-time config: the reason the catalog is a macro, not a seed."""
    from lakeqa.dbt_runner import run_dbt

    outcome = run_dbt(["parse", "--vars", json.dumps({"rules_critical_as_error": True})],
                      faulted_lake_build.paths, quiet=True)
    assert outcome.success
    severity = {}
    for node in _manifest()["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] == "test" and meta.get("name") in set(
            name for name, in faulted_lake_build.query("select test_name from rule_catalog")
        ):
            severity.setdefault(meta["name"], set()).add(node["config"]["severity"].lower())
    catalog = dict(faulted_lake_build.query("select test_name, severity from rule_catalog"))
    for name, seen in severity.items():
        assert seen == ({"error"} if catalog[name] == "critical" else {"warn"}), name
    run_dbt(["parse"], faulted_lake_build.paths, quiet=True)
