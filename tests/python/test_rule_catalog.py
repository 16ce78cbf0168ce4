"""The rule catalog seed is the one definition of the rules; what dbt must know at parse time agrees with it."""

from __future__ import annotations

import csv
import re

from lakeqa.settings import PROJECT_DIR

CATALOG = PROJECT_DIR / "seeds" / "rule_catalog.csv"
RULE_MACROS = PROJECT_DIR / "macros" / "rules"


def _catalog() -> list[dict]:
    with CATALOG.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_catalog_has_every_rule_of_the_design_with_its_severity():
    severities = {row["rule_id"]: row["severity"] for row in _catalog()}
    assert severities == {
        "R1_OHLC_ORDER": "critical",
        "R2_POSITIVE_PRICE": "critical",
        "R3_ASK_GE_BID": "major",
        "R4_NO_NAN": "critical",
        "R5_CONTINUITY": "critical",
        "R6_SPREAD_SANITY": "major",
        "R7_KLINE_PARITY": "minor",
        "NEG_VOLUME": "major",
    }


def test_parse_time_list_of_critical_rules_equals_the_catalog():
    helpers = (RULE_MACROS / "_lakeqa_rule_helpers.sql").read_text()
    listed = re.search(r"macro lakeqa_critical_rules\(\).*?return\(\[(.*?)\]\)", helpers, re.S).group(1)
    in_macro = set(re.findall(r"'([A-Z0-9_]+)'", listed))
    in_catalog = {row["rule_id"] for row in _catalog() if row["severity"] == "critical"}
    assert in_macro == in_catalog


def test_every_catalog_rule_has_a_generic_test_and_is_attached_where_it_applies():
    yml = (PROJECT_DIR / "models" / "marts" / "bars" / "_bars__models.yml").read_text()
    models = {}
    for block in re.split(r"\n  - name: ", yml)[1:]:
        name = block.split("\n", 1)[0].strip()
        models[name] = block
    for row in _catalog():
        test_name = row["rule_id"].lower()
        test_name = {"neg_volume": "neg_volume"}.get(test_name, test_name)
        short = re.sub(r"^(r\d)_.*$", r"\1", test_name)
        files = [p.name for p in RULE_MACROS.glob(f"test_{short}*.sql")] or [
            p.name for p in RULE_MACROS.glob(f"test_{test_name}.sql")
        ]
        assert files, f"no generic test file for {row['rule_id']}"
        for table in row["applies_to"].split():
            assert table in models, f"{row['rule_id']} applies to {table}, which has no yml entry"
            assert re.search(rf"- {short}[a-z_]*", models[table]), f"{row['rule_id']} not attached to {table}"


def test_threshold_vars_exist_in_dbt_project():
    project = (PROJECT_DIR / "dbt_project.yml").read_text()
    for row in _catalog():
        if row["threshold_var"]:
            match = re.search(rf"^\s+{row['threshold_var']}:\s*([0-9.eE+-]+)", project, re.M)
            assert match, f"var {row['threshold_var']} missing from dbt_project.yml"
            assert float(match.group(1)) == float(row["threshold_default"]), row["threshold_var"]
