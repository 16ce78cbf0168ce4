"""What a checkpoint run returns: per suite its expectations' outcomes, per table and rule what GE
flagged, as plain JSON-able data (the keys every (symbol, ts) GE flagged, so they can be compared with
``violations``)."""

from __future__ import annotations

import datetime as dt

from lakeqa.ge.suites import SuitePlan

__all__ = ["jsonable", "rules_summary", "summarise"]


def jsonable(value):
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _key(entry: dict) -> tuple[str, str]:
    """(symbol, ts) of one of GE's unexpected index entries, ts written as violations' strftime does."""
    ts = entry.get("ts")
    ts = ts.isoformat(sep=" ") if hasattr(ts, "isoformat") else str(ts)
    return str(entry.get("symbol")), ts


def _index_entries(result: dict, prefix: str) -> list[dict]:
    """GE's ``<prefix>_index_list``: the (symbol, ts) of each unexpected row. GE 1.x's SQL engine gives
    none for a multicolumn expectation (ExpectCompoundColumnsToBeUnique: its ``unexpected_index_query`` is
    not even valid SQL), but that expectation's unexpected values are its columns, (symbol, ts) here: the
    keys, read from ``<prefix>_list`` instead."""
    entries = result.get(f"{prefix}_index_list")
    if not entries and result.get("unexpected_count"):
        values = result.get(f"{prefix}_list") or []
        if values and all(isinstance(v, dict) and {"symbol", "ts"} <= set(v) for v in values):
            return values
    return entries or []


def summarise(plan: SuitePlan, validation, complete: bool) -> dict:
    """One suite's validation result as data: per expectation its rule, outcome and counts, and the
    (symbol, ts) of its unexpected rows (all of them with COMPLETE, GE's partial list otherwise)."""
    expectations = []
    for r in validation.results:
        config = r.expectation_config
        kwargs = {k: v for k, v in config.to_json_dict()["kwargs"].items() if k != "batch_id"}
        result = r.result or {}
        entry = {
            "type": config.type,
            "kwargs": kwargs,
            "rule_id": (config.meta or {}).get("rule_id"),
            "severity": (config.meta or {}).get("severity"),
            "success": bool(r.success),
            "unexpected_count": result.get("unexpected_count"),
            "element_count": result.get("element_count"),
        }
        if r.exception_info and r.exception_info.get("raised_exception"):
            entry["exception"] = r.exception_info.get("exception_message")
        if complete:
            entry["unexpected_keys"] = sorted({_key(e) for e in _index_entries(result, "unexpected")})
        else:
            entry["partial_unexpected_keys"] = [_key(e) for e in _index_entries(result, "partial_unexpected")]
        expectations.append(entry)
    return {
        "table": plan.table,
        "batch": plan.batch.kind,
        "success": bool(validation.success),
        "expectations": expectations,
    }


def rules_summary(suites: dict[str, dict], complete: bool) -> dict[str, dict[str, dict]]:
    """Per table and rule: success, and (with COMPLETE) the distinct (symbol, ts) GE flagged across the
    rule's expectations, companion gap suite included."""
    out: dict[str, dict[str, dict]] = {}
    for suite in suites.values():
        for e in suite["expectations"]:
            rule = out.setdefault(suite["table"], {}).setdefault(
                e["rule_id"], {"success": True, "expectations": 0, "keys": set() if complete else None}
            )
            rule["success"] = rule["success"] and e["success"]
            rule["expectations"] += 1
            if complete:
                rule["keys"].update(tuple(k) for k in e["unexpected_keys"])
    for rules in out.values():
        for rule in rules.values():
            keys = rule.pop("keys")
            rule["flagged"] = len(keys) if keys is not None else None
            if keys is not None:
                rule["flagged_keys"] = sorted(keys)
    return out
