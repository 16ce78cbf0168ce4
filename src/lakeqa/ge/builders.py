"""How each rule becomes Great Expectations expectations: one builder per rule test, the GE equivalent of
the rule's SQL macro (``macros/rules/test_<test_name>.sql``).

A builder takes one attachment (the rule, the table, the test's arguments, the threshold the build
resolved; ``lakeqa.ge.attachments``) and returns expectations, each with the batch it validates: the
table's rows of the day (ROWS) or the day's R5 intervals (GAPS). Nothing here says which tables a rule
applies to, nor which columns: the table comes from the attachment, the columns from its arguments
(neg_volume's ``volume_columns``, r5_continuity's ``gap_kind`` / ``grain``) or from the rule itself
(OHLC, ask/bid, spread_bps, is_match). A builder also declares the arguments it reads; a test argument it
does not know is an error, since GE would silently ignore what the dbt test applies.

Every expectation's ``meta`` carries the rule id, name, severity, description, threshold and the dbt
test; Data Docs show the rule id and severity in each expectation's ``description`` ("R6_SPREAD_SANITY
(major): spread_bps < 500", in place of GE's own sentence) and the catalog's text in its ``notes`` (suite
page); GE's own ``severity`` is set too (critical / warning / info for critical / major / minor). (GE
1.24's "meta_properties" columns on validation pages fail on pair expectations, so they are not used.)

Mapping (GE's own expectations wherever one exists):

* r1_ohlc_order: ``ExpectColumnPairValuesAToBeGreaterThanB`` high >= open, high >= close, open >= low,
  close >= low (``or_equal``), on rows where all four prices are present: the dbt rule leaves a row with
  any NULL/NaN price to R4, so each pair carries the row condition "open, high, low, close are not null".
* r2_positive_price: ``ExpectColumnValuesToBeBetween(min_value=0, strict_min=True)`` on open, high, low,
  close. GE's "between" ignores nulls, and the batch selects NaN as NULL (``lakeqa.ge.batches``): rows with a missing price are R4's,
  as in dbt (DuckDB's ``least()`` skips NULL and ranks NaN above every number).
* r3_ask_ge_bid: ``ExpectColumnPairValuesAToBeGreaterThanB(ask, bid, or_equal=True,
  ignore_row_if='either_value_is_missing')``.
* r4_no_nan: ``ExpectColumnValuesToNotBeNull`` on open, high, low, close, or the attachment's
  ``value_columns`` (a context series' values), the batch selecting a NaN as NULL.
* r5_continuity duplicates: ``ExpectCompoundColumnsToBeUnique(symbol, ts)`` on the table's rows.
* r5_continuity gaps: GE has no gap expectation, and a gap is not a row of the table (on bars it is the
  time between two seconds with trades *or quotes*; the last second before a gap is often a quote-only
  second that has no bar). dbt measures every gap once, in ``int_continuity_intervals`` (one row per
  moment seen with a next one the same UTC day: ``gap_s`` to it and the symbol's ``max_gap_s``), and the
  dbt rule reports an interval as a gap when ``gap_s > max_gap_s``. So each table with R5 gets a companion
  suite ``<table>__r5_gaps`` that validates the day's intervals of the attachment's ``gap_kind``
  (``lakeqa.ge.batches``) with ``ExpectColumnPairValuesAToBeGreaterThanB(max_gap_s, gap_s,
  or_equal=True)``: the same comparison, on the same rows. The batch's ``ts`` is where ``violations``
  reports the gap, so GE and dbt name the same (symbol, ts).
* r6_spread_sanity: ``ExpectColumnValuesToBeBetween(spread_bps, max_value=threshold, strict_max=True)``
  with the attachment's threshold (its ``max_spread_bps`` argument, else var rule_max_spread_bps as the
  build resolved it).
* r7_kline_parity: ``ExpectColumnValuesToBeInSet(is_match, [True])``; a NULL is_match (no exchange klines
  that day) is not a violation and GE's in-set ignores nulls. The price and volume tolerances were applied
  by dbt when it computed ``is_match``: the threshold shown in ``meta`` is informational, GE does not
  re-apply it.
* neg_volume: ``ExpectColumnValuesToBeBetween(min_value=0)`` on each of the attachment's
  ``volume_columns``.
* c1_trade_gap ... c9_price_scale (the completeness rules C1-C9, ``macros/rules/test_completeness_rules.sql``):
  every check is measured once by dbt in the table they are attached to (``completeness_checks``: one
  row per check_name, symbol, ts, subject with ``measured_value`` and ``limit_value``), and the dbt rule
  reports the rows of its own check_name with ``measured_value > limit_value``. One builder for the nine
  (they differ only by name): ``ExpectColumnPairValuesAToBeGreaterThanB(limit_value, measured_value,
  or_equal=True, ignore_row_if='either_value_is_missing')`` with the row condition ``check_name ==
  <test name>`` (GE's ``Column("check_name") == name``; on the SQL engine GE applies it as a
  ``WHERE``): the same comparison, on the
  same rows (a NULL value is no violation for dbt's ``>``, hence the ignore). The batch is the table's rows
  of the day in daily mode (``lakeqa.ge.batches``: a table with a ``mode`` column is read with
  ``mode = 'daily'``). The limit is per row (symbol settings, the symbol's own rate, history); the
  attachment's threshold in ``meta`` is the rule's setting as the build resolved it, informational.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lakeqa.ge.attachments import Attachment, Rule
from lakeqa.ge.errors import GeSuiteError

__all__ = [
    "BUILDERS",
    "COMPLETENESS_TESTS",
    "GAPS",
    "ROWS",
    "Batch",
    "RuleBuilder",
    "expectations_for",
    "missing_builder_error",
]

ROWS, GAPS = "rows", "r5_gaps"
OHLC = ("open", "high", "low", "close")
KEY_COLUMNS = ("symbol", "ts")
GAP_KINDS = ("activity", "minutes", "hours", "session_minutes")
GRAINS = ("second", "minute")
# catalog severity -> GE's FailureSeverity
GX_SEVERITY = {"critical": "critical", "major": "warning", "minor": "info"}


@dataclass(frozen=True)
class Batch:
    """What an expectation validates: the table's rows of the day, or the day's R5 intervals of one kind
    (``grain`` says where the gap is reported, as the dbt rule's argument of the same name)."""

    kind: str  # ROWS or GAPS
    gap_kind: str | None = None
    grain: str | None = None


Built = list[tuple[Batch, object]]  # (batch, a great_expectations Expectation)


@dataclass(frozen=True)
class RuleBuilder:
    build: Callable[[Attachment], Built]
    arguments: frozenset[str] = frozenset()  # the test arguments it reads; any other is an error


def _meta(attachment: Attachment, what: str, how: str) -> dict:
    """Keyword arguments every generated expectation gets: the catalog's rule in ``meta``; a
    ``description`` that Data Docs show in place of GE's own sentence ("R6_SPREAD_SANITY (major): ...");
    the catalog's text and how the rule maps to GE as ``notes`` (shown on the suite page); GE's own
    ``severity`` (critical / warning / info from critical / major / minor)."""
    from great_expectations.expectations.metadata_types import FailureSeverity

    rule = attachment.rule
    return {
        "meta": {
            "rule_id": rule.rule_id,
            "rule_name": rule.name,
            "severity": rule.severity,
            "description": rule.description,
            "threshold_var": rule.threshold_var,
            "threshold": attachment.threshold,
            "dbt_test": attachment.test_id,
        },
        # no "$" here: GE renders the description as a string template
        "description": f"{rule.rule_id} ({rule.severity}): {what}".replace("$", ""),
        "notes": [f"**{rule.rule_id}** ({rule.severity}) {rule.name}: {rule.description}", how],
        "severity": FailureSeverity(GX_SEVERITY.get(rule.severity, "warning")),
    }


def _threshold_source(attachment: Attachment, argument: str | None = None) -> str:
    """Where the attachment's threshold came from (for messages and notes): the test's own ``argument``
    when the yml gives it, else the rule's setting, as rule_attachments resolved it."""
    if argument and argument in attachment.arguments:
        return f"argument {argument} of this attachment"
    return f"var {attachment.rule.threshold_var}" if attachment.rule.threshold_var else "no setting"


def _r1(attachment: Attachment) -> Built:
    from great_expectations import expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    prices_present = (
        Column("open").is_not_null()
        & Column("high").is_not_null()
        & Column("low").is_not_null()
        & Column("close").is_not_null()
    )
    how = "Rows with a NULL/NaN price are left to R4_NO_NAN, as in the dbt rule (row condition)."
    return [
        (
            Batch(ROWS),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a,
                column_B=b,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                row_condition=prices_present,
                **_meta(attachment, f"{a} >= {b} (rows with all four prices present)", how),
            ),
        )
        for a, b in [("high", "open"), ("high", "close"), ("open", "low"), ("close", "low")]
    ]


def _r2(attachment: Attachment) -> Built:
    from great_expectations import expectations as gxe

    how = "NULL/NaN prices are not checked here (R4_NO_NAN reports them)."
    return [
        (
            Batch(ROWS),
            gxe.ExpectColumnValuesToBeBetween(
                column=c, min_value=0, strict_min=True, **_meta(attachment, f"{c} > 0", how)
            ),
        )
        for c in OHLC
    ]


def _r3(attachment: Attachment) -> Built:
    from great_expectations import expectations as gxe

    how = "Rows without a fresh quote (bid or ask NULL) are not checked."
    return [
        (
            Batch(ROWS),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="ask",
                column_B="bid",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                **_meta(attachment, "ask >= bid where both are known", how),
            ),
        )
    ]


def _r4(attachment: Attachment) -> Built:
    from great_expectations import expectations as gxe

    columns = attachment.arguments.get("value_columns", OHLC)
    if isinstance(columns, str) or not columns or not all(isinstance(c, str) and c for c in columns):
        raise GeSuiteError(
            f"{attachment.where()}: value_columns must be a non-empty list of column names, got {columns!r};"
            " fix the test's arguments in the model's yml"
        )
    how = "NaN counts as missing (the batch selects a NaN as NULL)."
    return [
        (
            Batch(ROWS),
            gxe.ExpectColumnValuesToNotBeNull(
                column=c, **_meta(attachment, f"{c} is never NULL or NaN", how)
            ),
        )
        for c in columns
    ]


def _r5(attachment: Attachment) -> Built:
    from great_expectations import expectations as gxe

    gap_kind, grain = attachment.arguments.get("gap_kind"), attachment.arguments.get("grain", "second")
    if gap_kind not in GAP_KINDS or grain not in GRAINS:
        raise GeSuiteError(
            f"{attachment.where()}: gap_kind must be one of {', '.join(GAP_KINDS)} and grain one of"
            f" {', '.join(GRAINS)}, got gap_kind={gap_kind!r}, grain={grain!r}; fix the test's arguments in"
            " the model's yml"
        )
    out: Built = [
        (
            Batch(ROWS),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=list(KEY_COLUMNS),
                **_meta(
                    attachment,
                    "no duplicate timestamps: (symbol, ts) is unique",
                    "A (symbol, ts) that appears more than once is one violation in dbt; GE flags every copy.",
                ),
            ),
        )
    ]
    if gap_kind == "activity":
        where = "the last active second" + (" floored to the minute" if grain == "minute" else "")
        how = (
            f"Gaps: the day's rows of int_continuity_intervals of kind 'activity' (seconds with trades or"
            f" quotes), each with gap_s to the next active second the same UTC day and the symbol's max_gap_s"
            f" (symbol_settings, else var {attachment.rule.threshold_var} = {_fmt(attachment.threshold)});"
            f" gap_s must not exceed max_gap_s. ts is {where}, where the violations table reports the gap."
        )
        what = "no stretch without trades and quotes longer than the symbol's max_gap_s (max_gap_s >= gap_s)"
    elif gap_kind == "minutes":
        how = (
            "Gaps: the day's rows of int_continuity_intervals of kind 'minutes' (the exchange's kline"
            " minutes), each with gap_s to the next present minute the same UTC day; max_gap_s is 60, so no"
            " minute may be missing between them. ts is the first missing minute, as in violations."
        )
        what = "no missing exchange minute (max_gap_s >= gap_s)"
    elif gap_kind == "hours":
        how = (
            "Gaps: the day's rows of int_continuity_intervals of kind 'hours' (the context series' hours),"
            " each with gap_s to the next present hour the same UTC day; max_gap_s is 3600, so no hour may be"
            " missing between them. ts is the first missing hour, as in violations."
        )
        what = "no missing hour (max_gap_s >= gap_s)"
    else:
        how = (
            "Gaps: the day's rows of int_continuity_intervals of kind 'session_minutes' (the minutes with a"
            " bar or in which the market is closed, seeds/macro_calendars.csv), each with gap_s to the next"
            " such minute the same UTC day and the market's max_gap_s. ts is the first missing session"
            " minute, as in violations."
        )
        what = "no session minutes without a bar beyond the market's max_gap_s (max_gap_s >= gap_s)"
    out.append(
        (
            Batch(GAPS, gap_kind, grain),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="max_gap_s",
                column_B="gap_s",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                **_meta(attachment, what, how),
            ),
        )
    )
    return out


def _r6(attachment: Attachment) -> Built:
    from great_expectations import expectations as gxe

    threshold, source = attachment.threshold, _threshold_source(attachment, "max_spread_bps")
    if threshold is None or threshold <= 0:
        raise GeSuiteError(
            f"{attachment.where()}: the maximum spread ({source}) must be a positive number,"
            f" got {threshold!r}"
        )
    how = (
        f"{source} = {threshold:g} in the build that wrote rule_attachments;"
        " rows without quotes (spread_bps NULL) are not checked."
    )
    return [
        (
            Batch(ROWS),
            gxe.ExpectColumnValuesToBeBetween(
                column="spread_bps",
                max_value=threshold,
                strict_max=True,
                **_meta(attachment, f"spread_bps < {threshold:g}", how),
            ),
        )
    ]


def _r7(attachment: Attachment) -> Built:
    from great_expectations import expectations as gxe

    how = (
        "is_match was computed by dbt with the build's tolerance vars (compare_price_tolerance_bps,"
        " compare_volume_tolerance_rel); a NULL is_match (no exchange klines that day) is not a violation."
    )
    return [
        (
            Batch(ROWS),
            gxe.ExpectColumnValuesToBeInSet(
                column="is_match",
                value_set=[True],
                **_meta(attachment, "our 1m bar equals the exchange kline (is_match is true)", how),
            ),
        )
    ]


def _neg_volume(attachment: Attachment) -> Built:
    from great_expectations import expectations as gxe

    columns = attachment.arguments.get("volume_columns")
    if isinstance(columns, str) or not columns or not all(isinstance(c, str) and c for c in columns):
        raise GeSuiteError(
            f"{attachment.where()}: volume_columns must be a non-empty list of column names, got {columns!r};"
            " fix the test's arguments in the model's yml"
        )
    how = "NULL/NaN volumes are not checked."
    return [
        (
            Batch(ROWS),
            gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, **_meta(attachment, f"{c} >= 0", how)),
        )
        for c in columns
    ]


COMPLETENESS_TESTS = (
    "c1_trade_gap", "c2_quote_gap", "c3_kline_witness", "c4_missing_dataset", "c5_row_drop",
    "c6_null_share", "c7_stale_book", "c8_clock_offset", "c9_price_scale", "c10_quarantined_file",
)  # fmt: skip


def _completeness(attachment: Attachment) -> Built:
    """C1-C10: the attached table's checks of this rule's name stay within their limit, as the dbt rule
    (measured_value > limit_value is a violation) says."""
    from great_expectations import expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    test_name = attachment.rule.test_name
    source = _threshold_source(attachment)
    how = (
        f"The day's rows of {attachment.table} (daily mode) with check_name = '{test_name}', each a check"
        " dbt measured once with the limit it must not exceed (measured_value > limit_value is a violation,"
        f" as in macros/rules/test_completeness_rules.sql). The limit is per row; {source} ="
        f" {_fmt(attachment.threshold)} in the build that wrote rule_attachments is shown for information."
    )
    return [
        (
            Batch(ROWS),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="limit_value",
                column_B="measured_value",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                row_condition=Column("check_name") == test_name,
                **_meta(attachment, f"{test_name}: limit_value >= measured_value", how),
            ),
        )
    ]


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


# rule test name -> its builder: the "how"; rule_attachments (the yml) is the "where"
BUILDERS: dict[str, RuleBuilder] = {
    "r1_ohlc_order": RuleBuilder(_r1),
    "r2_positive_price": RuleBuilder(_r2),
    "r3_ask_ge_bid": RuleBuilder(_r3),
    "r4_no_nan": RuleBuilder(_r4, frozenset({"value_columns"})),
    "r5_continuity": RuleBuilder(_r5, frozenset({"gap_kind", "grain"})),
    "r6_spread_sanity": RuleBuilder(_r6, frozenset({"max_spread_bps"})),
    "r7_kline_parity": RuleBuilder(_r7),
    "neg_volume": RuleBuilder(_neg_volume, frozenset({"volume_columns"})),
    **{name: RuleBuilder(_completeness) for name in COMPLETENESS_TESTS},
}


def missing_builder_error(rule: Rule, tables: list[str]) -> GeSuiteError:
    attached = f", attached to {', '.join(tables)}" if tables else ""
    return GeSuiteError(
        f"rule {rule.rule_id} (test {rule.test_name}{attached}) is in the rule catalog but has no Great"
        f" Expectations builder in lakeqa.ge.builders.BUILDERS (known tests: {', '.join(BUILDERS)}); add one"
        f" there, the GE equivalent of macros/rules/test_{rule.test_name}.sql, or remove the rule from"
        " lakeqa_rule_catalog() (macros/rules/_lakeqa_rule_catalog.sql)"
    )


def expectations_for(attachment: Attachment) -> Built:
    """The expectations of one attachment, each with its batch."""
    builder = BUILDERS.get(attachment.rule.test_name)
    if builder is None:
        raise missing_builder_error(attachment.rule, [attachment.table])
    unknown = sorted(set(attachment.arguments) - builder.arguments)
    if unknown:
        raise GeSuiteError(
            f"{attachment.where()}: argument(s) {', '.join(unknown)} are not known to its GE builder"
            f" (lakeqa.ge.builders.BUILDERS[{attachment.rule.test_name!r}] reads:"
            f" {', '.join(sorted(builder.arguments)) or 'none'}); GE would ignore what the dbt test applies:"
            " teach the builder the argument, or remove it from the model's yml"
        )
    return builder.build(attachment)
