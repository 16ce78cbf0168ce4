"""GE's SQL execution engine on the DuckDB file, and the one GE attribute lakeqa patches for it.

Why GE's SQL path fails on DuckDB (GE issues #10738 and #11579, unfixed in GE 1.24.1): GE runs every query
in ``SqlAlchemyExecutionEngine.execute_query`` as ``with self.get_connection() as connection: result =
...execute(query)`` and fetches the rows (``.fetchall()``) *after* that block. For every dialect but the
ones in ``_PERSISTED_CONNECTION_DIALECTS`` (sqlite, mssql, bigquery, databricks), ``get_connection`` is
``with self.engine.connect()``: leaving it ends SQLAlchemy's transaction with a rollback (and the pool's
reset on return rolls back again). duckdb-engine's cursor is the DuckDB connection itself, and a DuckDB
rollback drops the connection's pending result, so ``fetchall()`` returns ``[]`` and
``resolve_metric_bundle`` fails on ``res[0]`` (IndexError, "list index out of range"). A StaticPool (one
DBAPI connection) does not help: the rollback still happens. psycopg2 and friends buffer the rows on the
client, which is why GE gets away with it elsewhere.

GE keeps one SQLAlchemy connection open for the engine's life, with no rollback between a query and its
fetch, for the dialects in ``great_expectations/execution_engine/sqlalchemy_execution_engine.py``'s
``_PERSISTED_CONNECTION_DIALECTS`` (read by ``get_connection``, and by
``_dialect_requires_persisted_connection``, which then builds the engine with a StaticPool): the sqlite
path. ``persisted_duckdb_connection`` adds ``"duckdb"`` to that tuple while the checkpoint runs and puts
the tuple back afterwards; nothing else of GE is changed. tests/python/test_ge.py checks that GE's SQL path
on DuckDB still fails without it (so the patch goes once GE fixes the bug) and works with it.

The URL opens the file read-only (``access_mode=read_only``: analysts may hold it); the checkpoint closes
GE's connections before returning (``close_engines``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DUCKDB_DIALECT", "close_engines", "duckdb_url", "persisted_duckdb_connection"]

DUCKDB_DIALECT = "duckdb"  # duckdb-engine's SQLAlchemy dialect name
PATCHED_ATTRIBUTE = "_PERSISTED_CONNECTION_DIALECTS"


def duckdb_url(path) -> str:
    """The SQLAlchemy URL (duckdb-engine) that opens the DuckDB file read-only."""
    from sqlalchemy.engine import URL

    url = URL.create(DUCKDB_DIALECT, database=str(Path(path).resolve()), query={"access_mode": "read_only"})
    return url.render_as_string(hide_password=False)


class _DialectName(str):
    """A dialect name as GE's tuple holds them (GXSqlDialect members, which has no DuckDB): equal to the
    engine's dialect name for ``get_connection``'s ``in``, with the ``.value`` that
    ``_dialect_requires_persisted_connection`` reads."""

    @property
    def value(self) -> str:
        return str(self)


class persisted_duckdb_connection:  # noqa: N801 (a context manager, used like a function)
    """While open: GE treats DuckDB like sqlite, one persisted connection per execution engine."""

    def __enter__(self):
        from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

        self._module = engine_module
        self._original = original = getattr(engine_module, PATCHED_ATTRIBUTE)
        if DUCKDB_DIALECT not in original:
            setattr(engine_module, PATCHED_ATTRIBUTE, (*original, _DialectName(DUCKDB_DIALECT)))
        return self

    def __exit__(self, *exc):
        setattr(self._module, PATCHED_ATTRIBUTE, self._original)
        return False


def close_engines(datasource) -> None:
    """Close every DuckDB connection GE's SQL datasource opened: its execution engine's persisted one
    and the pool of the engine it reflects tables with."""
    engine = getattr(datasource, "_execution_engine", None)
    if engine is not None:
        connection = getattr(engine, "_connection", None)
        if connection is not None:
            connection.close()
            engine._connection = None
        engine.engine.dispose()
    sa_engine = getattr(datasource, "_engine", None)
    if sa_engine is not None:
        sa_engine.dispose()
