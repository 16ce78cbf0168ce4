"""The rules and where they apply, as the last dbt build wrote them into DuckDB.

A rule is defined once (``macros/rules/_lakeqa_rule_catalog.sql``) and attached to tables only in the
models' yml (``data_tests``). dbt publishes both from its graph on every build: ``rule_catalog`` (one row
per rule, the threshold as the build resolved its setting) and ``rule_attachments`` (one row per rule test
attached to a model: the table, the test's arguments as JSON, the threshold that attachment uses). The GE
suites are built from these two tables and from nothing else, so a rule attached in the yml, or a
threshold changed with ``--vars``, reaches the dbt test, ``violations`` and GE alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lakeqa.ge.errors import GeSuiteError

__all__ = ["Attachment", "Rule", "RuleSet", "read_rule_set", "rule_set_from_rows"]

CATALOG_TABLE, ATTACHMENTS_TABLE = "rule_catalog", "rule_attachments"
CATALOG_COLUMNS = ("rule_id", "test_name", "name", "severity", "threshold_var", "threshold", "description")
ATTACHMENT_COLUMNS = ("rule_id", "test_name", "table_name", "arguments", "threshold", "test_id")


@dataclass(frozen=True)
class Rule:
    """One row of ``rule_catalog``."""

    rule_id: str
    test_name: str  # the generic dbt test (macros/rules/test_<test_name>.sql); the key of builders.BUILDERS
    name: str
    severity: str
    threshold_var: str | None
    threshold: float | None  # the setting's value in the build that wrote the table
    description: str


@dataclass(frozen=True)
class Attachment:
    """One row of ``rule_attachments``: a rule test attached to a table in the yml."""

    rule: Rule
    table: str
    arguments: Mapping = field(hash=False)  # the test's arguments (volume_columns, gap_kind, ...)
    threshold: float | None  # this attachment's own argument if it has one, else the rule's setting
    test_id: str  # the dbt test's unique id

    def where(self) -> str:
        """For messages: which attachment, and where it is written."""
        rule = self.rule
        return f"rule {rule.rule_id} ({rule.test_name}) attached to {self.table} (dbt test {self.test_id})"


@dataclass(frozen=True)
class RuleSet:
    """The catalog and its attachments, and where they were read."""

    rules: tuple[Rule, ...]
    attachments: tuple[Attachment, ...]
    source: str

    def tables_of(self, rule: Rule) -> list[str]:
        return list(dict.fromkeys(a.table for a in self.attachments if a.rule == rule))


def _number(value, what: str) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise GeSuiteError(f"{what}: threshold must be a number, got {value!r}") from exc


def _text(value) -> str:
    return "" if value is None else str(value)


def _check_columns(rows: list[dict], columns: tuple[str, ...], table: str) -> None:
    for n, row in enumerate(rows, start=1):
        missing = [c for c in columns if c not in row]
        if missing:
            raise GeSuiteError(
                f"{table}: row {n} lacks column(s) {', '.join(missing)}; it was written by another version of"
                " the dbt project: rebuild (lakeqa run / dbt build)"
            )


def rule_set_from_rows(
    catalog_rows: Iterable[Mapping], attachment_rows: Iterable[Mapping], source: str = "rows"
) -> RuleSet:
    """A RuleSet from rows shaped like the two tables (dicts keyed by column name)."""
    catalog_rows = [dict(r) for r in catalog_rows]
    attachment_rows = [dict(r) for r in attachment_rows]
    _check_columns(catalog_rows, CATALOG_COLUMNS, CATALOG_TABLE)
    _check_columns(attachment_rows, ATTACHMENT_COLUMNS, ATTACHMENTS_TABLE)

    by_test: dict[str, Rule] = {}
    seen_ids: set[str] = set()
    for row in catalog_rows:
        test_name, rule_id = _text(row["test_name"]).strip(), _text(row["rule_id"]).strip()
        if not test_name or not rule_id:
            raise GeSuiteError(f"{CATALOG_TABLE}: a row has an empty rule_id or test_name: {row}")
        if test_name in by_test or rule_id in seen_ids:
            raise GeSuiteError(f"{CATALOG_TABLE}: rule {rule_id} ({test_name}) appears twice")
        seen_ids.add(rule_id)
        by_test[test_name] = Rule(
            rule_id=rule_id,
            test_name=test_name,
            name=_text(row["name"]),
            severity=_text(row["severity"]),
            threshold_var=_text(row["threshold_var"]).strip() or None,
            threshold=_number(row["threshold"], f"{CATALOG_TABLE} {rule_id}"),
            description=_text(row["description"]),
        )

    attachments = []
    for row in attachment_rows:
        test_name, table, test_id = _text(row["test_name"]), _text(row["table_name"]), _text(row["test_id"])
        rule = by_test.get(test_name)
        if rule is None or rule.rule_id != _text(row["rule_id"]):
            raise GeSuiteError(
                f"{ATTACHMENTS_TABLE}: {test_id} attaches rule {row['rule_id']} ({test_name}), which"
                f" {CATALOG_TABLE} does not list under that test name; the two tables come from different"
                " builds: rebuild"
            )
        try:
            arguments = json.loads(row["arguments"] or "{}")
        except json.JSONDecodeError as exc:
            raise GeSuiteError(f"{ATTACHMENTS_TABLE}: {test_id}: arguments are not JSON: {exc}") from exc
        if not isinstance(arguments, dict):
            raise GeSuiteError(
                f"{ATTACHMENTS_TABLE}: {test_id}: arguments must be a JSON object, got {arguments!r}"
            )
        attachments.append(
            Attachment(
                rule=rule,
                table=table,
                arguments=arguments,
                threshold=_number(row["threshold"], f"{ATTACHMENTS_TABLE} {test_id}"),
                test_id=test_id,
            )
        )
    return RuleSet(rules=tuple(by_test.values()), attachments=tuple(attachments), source=source)


def _rows(con, table: str, columns: tuple[str, ...], order_by: str) -> list[dict]:
    found = con.execute(
        "select table_schema from information_schema.tables where table_name = ? order by table_schema",
        [table],
    ).fetchall()
    if not found:
        raise GeSuiteError(
            f"the DuckDB file has no {table} table; dbt writes {CATALOG_TABLE} and {ATTACHMENTS_TABLE} on"
            " every build: build the project first (lakeqa run, or dbt build --select tag:daily)"
        )
    cols = ", ".join(f'"{c}"' for c in columns)
    rows = con.execute(f'select {cols} from "{found[0][0]}"."{table}" order by {order_by}').fetchall()
    return [dict(zip(columns, row)) for row in rows]


def read_rule_set(con, source: str = "DuckDB") -> RuleSet:
    """The catalog and the attachments from an open DuckDB connection, in the tables' own order
    (attachments by table, rule id, test id)."""
    return rule_set_from_rows(
        _rows(con, CATALOG_TABLE, CATALOG_COLUMNS, "rule_id"),
        _rows(con, ATTACHMENTS_TABLE, ATTACHMENT_COLUMNS, "table_name, rule_id, test_id"),
        source=source,
    )
