"""The batches the suites validate: a SELECT over the DuckDB file the build wrote, which GE's SQL
execution engine runs on that file (its metrics are aggregate queries pushed down to DuckDB; no row is
read into pandas). GE's SQL path on DuckDB needs one workaround, told in ``lakeqa.ge.sql``.

Each batch is a GE query asset: ``Batches.query`` writes its SELECT, with the day's bounds as literals (a
query asset takes SQL text, no parameters; the day is a validated date), and counts its rows. Only the
columns the suite's expectations use (plus symbol, ts) are selected. A float column is selected as
``nullif(col, 'nan')``: DuckDB keeps NaN apart from NULL (and ranks it above every number), while the
rules treat a NaN price like a missing one (R4 flags it, R1/R2 leave it to R4), as GE's pandas engine
did, so GE sees a NaN as NULL.

R5 gap batches are read from ``int_continuity_intervals``, where dbt measures every gap once (the dbt rule
reads the same rows): the day's rows of the attachment's ``gap_kind``. The SELECT only projects ``ts`` to
where ``violations`` reports the gap (macros/rules/test_r5_continuity.sql): for kind 'activity' the last
active second (``ts``, grain second) or that second floored to the minute (``ts_minute``, grain minute);
for kind 'minutes' (and 'session_minutes') the first missing minute (``ts + 1 minute``), for 'hours' the
first missing hour. ``int_continuity_intervals`` holds the
*last build's* window only: when it has no rows for the day while the table has, the day was not in that
window, and the read stops with a message saying to rebuild the day rather than calling it gap-free.

A table with a ``mode`` column (models with ``window_by_mode``, e.g. ``completeness_checks``) holds daily
and hourly rows side by side; GE validates a day, so its ROWS batch is the day's rows with ``mode =
'daily'``, the rows a daily dbt run's rules judge (they filter on the run's mode). No table is named here:
the column decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lakeqa.ge.builders import GAP_KINDS, GAPS, ROWS
from lakeqa.ge.errors import GeSuiteError
from lakeqa.ge.suites import SuitePlan

__all__ = ["Batches", "BatchQuery", "day_bounds"]

INTERVALS = "int_continuity_intervals"
MODE_COLUMN, DAILY = "mode", "daily"  # window_by_mode tables: GE validates a day, i.e. the daily rows
FLOAT_TYPES = {"FLOAT", "REAL", "FLOAT4", "DOUBLE", "FLOAT8"}  # DuckDB types that can hold NaN


def day_bounds(day: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time())
    except (TypeError, ValueError) as exc:
        raise GeSuiteError(f"day must be YYYY-MM-DD, got {day!r}") from exc
    return start, start + dt.timedelta(days=1)


def _gap_ts(gap_kind: str, grain: str) -> str:
    """Where violations reports a gap of this kind and grain, as the dbt rule writes it."""
    if gap_kind in ("minutes", "session_minutes"):
        return "ts + interval 1 minute"
    if gap_kind == "hours":
        return "ts + interval 1 hour"
    return "ts_minute" if grain == "minute" else "ts"


@dataclass(frozen=True)
class BatchQuery:
    """A suite's batch: the SELECT a GE query asset runs, and its row count."""

    sql: str
    rows: int


def _literal(moment: dt.datetime) -> str:
    return f"timestamp '{moment.isoformat(sep=' ')}'"


def _select(column: str, data_type: str | None, expression: str | None = None) -> str:
    """One column of a batch's SELECT: a float column with NaN as NULL (see the module docstring)."""
    source = expression or f'"{column}"'
    if (data_type or "").upper() in FLOAT_TYPES:
        return f"nullif({source}, 'nan'::double) as \"{column}\""
    return source if expression is None else f'{source} as "{column}"'


class Batches:
    """Writes each plan's batch query for the day, checked and counted on one open read-only DuckDB
    connection (closed by the checkpoint before GE opens the file)."""

    def __init__(self, con, day: str):
        self.con = con
        self.day = day
        self.start, self.end = day_bounds(day)
        self._relations: dict[str, tuple[str, dict[str, str]] | None] = {}

    def relation(self, table: str) -> tuple[str, dict[str, str]] | None:
        """(quoted relation, its columns and their types) of a table of the DuckDB file, or None when it is
        not there."""
        if table not in self._relations:
            rows = self.con.execute(
                "select table_schema, column_name, data_type from information_schema.columns"
                " where table_name = ? order by table_schema, ordinal_position",
                [table],
            ).fetchall()
            if rows:
                schema = rows[0][0]
                types = {c: t for s, c, t in rows if s == schema}
                self._relations[table] = (f'"{schema}"."{table}"', types)
            else:
                self._relations[table] = None
        return self._relations[table]

    def table_columns(self, tables) -> dict[str, set[str] | None]:
        """The columns of each table (None for a missing one), for build_suites to check attachments."""
        return {table: (set(found[1]) if (found := self.relation(table)) else None) for table in tables}

    def _required(self, table: str) -> tuple[str, dict[str, str]]:
        found = self.relation(table)
        if found is None:
            raise GeSuiteError(
                f"table {table} is not in the DuckDB file; build it first (lakeqa run / dbt build)"
            )
        return found

    def query(self, plan: SuitePlan) -> BatchQuery:
        if plan.batch.kind == ROWS:
            sql = self._rows(plan)
        elif plan.batch.kind == GAPS:
            sql = self._gaps(plan)
        else:
            raise GeSuiteError(f"suite {plan.name}: unknown batch kind {plan.batch.kind!r}")
        rows = self.con.execute(f"select count(*) from ({sql})").fetchone()[0]
        if plan.batch.kind == GAPS and rows == 0 and self._has_two_moments(plan.table):
            raise GeSuiteError(
                f"{INTERVALS} has no rows of kind '{plan.batch.gap_kind}' for {self.day} although"
                f" {plan.table} has: the table holds the last dbt build's window only; rebuild the day"
                f" (lakeqa run --day {self.day}) before validating it with GE"
            )
        return BatchQuery(sql=sql, rows=rows)

    def _day(self) -> str:
        return f"ts >= {_literal(self.start)} and ts < {_literal(self.end)}"

    def _rows(self, plan: SuitePlan) -> str:
        relation, types = self._required(plan.table)
        wanted = plan.columns()
        missing = [c for c in wanted if c not in types]
        if missing:
            raise GeSuiteError(
                f"table {plan.table} lacks column(s) {', '.join(missing)} that suite {plan.name} checks"
            )
        cols = ", ".join(_select(c, types[c]) for c in wanted)
        # a table measured per day and per hour side by side (a mode column): the day's daily rows, the
        # rows the dbt rules judge in a daily run
        daily = f" and \"{MODE_COLUMN}\" = '{DAILY}'" if MODE_COLUMN in types else ""
        return f"select {cols} from {relation} where {self._day()}{daily}"

    def _gaps(self, plan: SuitePlan) -> str:
        intervals, types = self._required(INTERVALS)
        gap_kind, grain = plan.batch.gap_kind, plan.batch.grain
        if gap_kind not in GAP_KINDS:  # it is written into the SQL
            raise GeSuiteError(f"suite {plan.name}: unknown gap kind {gap_kind!r}")
        cols = ", ".join([
            '"symbol"',
            f'{_gap_ts(gap_kind, grain)} as "ts"',
            '"ts" as "present_ts"',
            '"next_ts"',
            *(_select(c, types.get(c)) for c in ("gap_s", "max_gap_s")),
        ])
        return f"select {cols} from {intervals} where kind = '{gap_kind}' and {self._day()}"

    def _has_two_moments(self, table: str) -> bool:
        """Whether some symbol has two distinct times in the table that day: then the build of the day
        measured at least one interval (a single moment has no next one, so no interval)."""
        relation, _ = self._required(table)
        return bool(
            self.con.execute(
                f"select count(*) from (select symbol from {relation} where ts >= ? and ts < ?"
                " group by symbol having count(distinct ts) > 1)",
                [self.start, self.end],
            ).fetchone()[0]
        )
