"""The SQLite target: Python's sqlite3, rows inserted in batches inside one transaction per table.

SQLite has five storage classes, so times and days are stored as ISO text ('2024-08-09 00:00:01',
'2024-08-09': what SQLite's own date functions read, and ordered as text), booleans as 0/1 and every
integer as INTEGER. SQLite has no NaN: a NaN double becomes NULL there (R4 reports NaN bars; Postgres keeps
them as NaN).

URLs follow SQLAlchemy's form: sqlite:///relative/path.db, sqlite:////absolute/path.db.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from lakeqa.export_db.source import ExportError, Table, check_target_columns, duplicate_key_error

BATCH = 50_000
PREFIX = "sqlite:///"

INTEGER_TYPES = {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT"}  # fmt: skip
REAL_TYPES = {"FLOAT", "DOUBLE"}
TEXT_TYPES = {"VARCHAR", "JSON", "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIME", "INTERVAL"}


def sqlite_type(table: str, column: str, duckdb_type: str) -> str:
    if duckdb_type in INTEGER_TYPES:
        return "INTEGER"
    if duckdb_type in REAL_TYPES or duckdb_type.startswith("DECIMAL"):
        return "REAL"
    if duckdb_type in TEXT_TYPES:
        return "TEXT"
    raise ExportError(f"{table}.{column} has DuckDB type {duckdb_type}, which export-db has no SQLite type for")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_path(url: str) -> Path:
    if not url.startswith(PREFIX) or url == PREFIX or url[len(PREFIX):].startswith(":memory:"):
        raise ExportError("a SQLite --url names a file: sqlite:///relative/path.db or sqlite:////absolute/path.db")
    path = Path(url[len(PREFIX):])
    if not path.parent.is_dir():
        raise ExportError(f"--url {url}: folder {path.parent} does not exist")
    if path.is_dir():
        raise ExportError(f"--url {url}: {path} is a folder; name the database file")
    return path


class SQLiteTarget:
    def __init__(self, url: str):
        self.path = sqlite_path(url)
        self.label = f"sqlite:///{self.path}"
        try:
            # isolation_level None: the transactions are the explicit begin/commit below, DDL included
            self._conn = sqlite3.connect(self.path, isolation_level=None)
            self._conn.execute("pragma journal_mode = wal")  # readers keep reading while a table is replaced
        except sqlite3.Error as error:
            raise ExportError(f"cannot open {self.label}: {error}") from None

    def close(self) -> None:
        self._conn.close()

    def _existing_columns(self, name: str) -> list[str]:
        return [row[1] for row in self._conn.execute(f"pragma table_info({_quote(name)})").fetchall()]

    def _create(self, table: Table) -> None:
        columns = [f"{_quote(c.name)} {sqlite_type(table.name, c.name, c.duckdb_type)}" for c in table.columns]
        if table.key:
            columns.append(f"primary key ({', '.join(map(_quote, table.key))})")
        self._conn.execute(f"create table if not exists {_quote(table.name)} ({', '.join(columns)})")
        for suffix, cols in (("symbol_ts", ("symbol", "ts")), ("date", ("date",))):
            self._conn.execute(f"create index if not exists {_quote(f'idx_{table.name}_{suffix}')}"
                               f" on {_quote(table.name)} ({', '.join(map(_quote, cols))})")  # fmt: skip

    def replace_window(self, source: duckdb.DuckDBPyConnection, table: Table, days: list[str]) -> int:
        """As PostgresTarget.replace_window: create where missing, delete the window, insert, one transaction."""
        existing = self._existing_columns(table.name)
        check_target_columns(self.label, table, existing)
        selected = ", ".join(
            f"cast({_quote(c.name)} as varchar)" if sqlite_type(table.name, c.name, c.duckdb_type) == "TEXT"
            else _quote(c.name) for c in table.columns)  # fmt: skip
        insert = (f"insert into {_quote(table.name)} ({', '.join(map(_quote, table.column_names))})"
                  f" values ({', '.join('?' * len(table.columns))})")  # fmt: skip
        copied = 0
        try:
            self._conn.execute("begin immediate")
            try:
                self._create(table)
                self._conn.execute(f"delete from {_quote(table.name)} where date between ? and ?", [days[0], days[-1]])
                result = source.execute(f"select {selected} from {_quote(table.name)}"
                                        " where date between cast(? as date) and cast(? as date)", [days[0], days[-1]])  # fmt: skip
                while batch := result.fetchmany(BATCH):
                    self._conn.executemany(insert, batch)
                    copied += len(batch)
                self._conn.execute("commit")
            except BaseException:
                self._conn.execute("rollback")
                raise
        except sqlite3.IntegrityError as error:
            raise duplicate_key_error(self.label, table, str(error)) from None
        except sqlite3.Error as error:
            raise ExportError(f"{self.label}: {table.name}: {error}; nothing of it was replaced") from None
        return copied

    def day_counts(self, table: Table, first: str, last: str) -> dict[str, int]:
        if not self._existing_columns(table.name):
            return {}
        return dict(self._conn.execute(
            f"select date, count(*) from {_quote(table.name)} where date between ? and ? group by 1",
            [first, last]).fetchall())  # fmt: skip

    def indexes(self, name: str) -> dict[str, str]:
        return dict(self._conn.execute(
            "select name, coalesce(sql, '') from sqlite_master where type = 'index' and tbl_name = ?", [name]).fetchall())  # fmt: skip
