"""The batches the suites validate, read from the DuckDB file the build wrote, as pandas DataFrames.

Why pandas batches and not GE's SQL datasource: GE's SQL datasource on DuckDB is broken (IndexError in
``resolve_metric_bundle``, GE issues #10738 and #11579; reproduced with GE 1.24.1 and duckdb-engine, which
is not even installed here). So the day's rows are read from DuckDB (read-only, from one connection that
the checkpoint closes before returning) into pandas with ``.df()`` and validated as pandas batches (a
pandas data source with one dataframe asset per suite, ``batch_parameters={"dataframe": df}``; see
``lakeqa.ge.checkpoint``). Only the columns the suite's expectations use (plus symbol, ts) are read.

R5 gap batches are read from ``int_continuity_intervals``, where dbt measures every gap once (the dbt rule
reads the same rows): the day's rows of the attachment's ``gap_kind``. The SELECT only projects ``ts`` to
where ``violations`` reports the gap (macros/rules/test_r5_continuity.sql): for kind 'activity' the last
active second (``ts``, grain second) or that second floored to the minute (``ts_minute``, grain minute);
for kind 'minutes' the first missing minute (``ts + 1 minute``). ``int_continuity_intervals`` holds the
*last build's* window only: when it has no rows for the day while the table has, the day was not in that
window, and the read stops with a message saying to rebuild the day rather than calling it gap-free.

A table with a ``mode`` column (models with ``window_by_mode``, e.g. ``completeness_checks``) holds daily
and hourly rows side by side; GE validates a day, so its ROWS batch is the day's rows with ``mode =
'daily'``, the rows a daily dbt run's rules judge (they filter on the run's mode). No table is named here:
the column decides.
"""

from __future__ import annotations

import datetime as dt

from lakeqa.ge.builders import GAPS, ROWS
from lakeqa.ge.errors import GeSuiteError
from lakeqa.ge.suites import SuitePlan

__all__ = ["Batches", "day_bounds"]

INTERVALS = "int_continuity_intervals"
MODE_COLUMN, DAILY = "mode", "daily"  # window_by_mode tables: GE validates a day, i.e. the daily rows


def day_bounds(day: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time())
    except (TypeError, ValueError) as exc:
        raise GeSuiteError(f"day must be YYYY-MM-DD, got {day!r}") from exc
    return start, start + dt.timedelta(days=1)


def _gap_ts(gap_kind: str, grain: str) -> str:
    """Where violations reports a gap of this kind and grain, as the dbt rule writes it."""
    if gap_kind == "minutes":
        return "ts + interval 1 minute"
    return "ts_minute" if grain == "minute" else "ts"


class Batches:
    """Reads each plan's batch for the day from one open read-only DuckDB connection."""

    def __init__(self, con, day: str):
        self.con = con
        self.day = day
        self.start, self.end = day_bounds(day)
        self._relations: dict[str, tuple[str, set[str]] | None] = {}

    def relation(self, table: str) -> tuple[str, set[str]] | None:
        """(quoted relation, its columns) of a table of the DuckDB file, or None when it is not there."""
        if table not in self._relations:
            rows = self.con.execute(
                "select table_schema, column_name from information_schema.columns where table_name = ?"
                " order by table_schema",
                [table],
            ).fetchall()
            if rows:
                schema = rows[0][0]
                self._relations[table] = (f'"{schema}"."{table}"', {c for s, c in rows if s == schema})
            else:
                self._relations[table] = None
        return self._relations[table]

    def table_columns(self, tables) -> dict[str, set[str] | None]:
        """The columns of each table (None for a missing one), for build_suites to check attachments."""
        return {table: (found[1] if (found := self.relation(table)) else None) for table in tables}

    def _required(self, table: str) -> tuple[str, set[str]]:
        found = self.relation(table)
        if found is None:
            raise GeSuiteError(
                f"table {table} is not in the DuckDB file; build it first (lakeqa run / dbt build)"
            )
        return found

    def load(self, plan: SuitePlan):
        if plan.batch.kind == ROWS:
            return self._rows(plan)
        if plan.batch.kind == GAPS:
            return self._gaps(plan)
        raise GeSuiteError(f"suite {plan.name}: unknown batch kind {plan.batch.kind!r}")

    def _rows(self, plan: SuitePlan):
        relation, columns = self._required(plan.table)
        wanted = plan.columns()
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise GeSuiteError(
                f"table {plan.table} lacks column(s) {', '.join(missing)} that suite {plan.name} checks"
            )
        cols = ", ".join(f'"{c}"' for c in wanted)
        # a table measured per day and per hour side by side (a mode column): the day's daily rows, the
        # rows the dbt rules judge in a daily run
        by_mode = MODE_COLUMN in columns
        daily = f' and "{MODE_COLUMN}" = ?' if by_mode else ""
        return self.con.execute(
            f"select {cols} from {relation} where ts >= ? and ts < ?{daily} order by symbol, ts",
            [self.start, self.end, *([DAILY] if by_mode else [])],
        ).df()

    def _gaps(self, plan: SuitePlan):
        intervals, _ = self._required(INTERVALS)
        gap_kind, grain = plan.batch.gap_kind, plan.batch.grain
        frame = self.con.execute(
            f"""
            select symbol, {_gap_ts(gap_kind, grain)} as ts, ts as present_ts, next_ts, gap_s, max_gap_s
            from {intervals}
            where kind = ? and ts >= ? and ts < ?
            order by symbol, present_ts
            """,
            [gap_kind, self.start, self.end],
        ).df()
        if frame.empty and self._has_two_moments(plan.table):
            raise GeSuiteError(
                f"{INTERVALS} has no rows of kind '{gap_kind}' for {self.day} although {plan.table} has: the"
                " table holds the last dbt build's window only; rebuild the day"
                f" (lakeqa run --day {self.day}) before validating it with GE"
            )
        return frame

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
