"""The Postgres target: psycopg 3, rows streamed with COPY.

Each day of the window leaves DuckDB as CSV (DuckDB's own COPY, into a temp file: a day of bars_1s is
~100 MB of text at 13 symbols) and enters Postgres through `COPY ... FROM STDIN`, one 1 MiB block at a
time. CSV carries every value the marts hold: NULL is an unquoted empty field, an empty string a quoted
one, and non-finite doubles are written `nan`/`inf`, which Postgres reads as NaN and Infinity.

The URL's password (or PGPASSWORD, ~/.pgpass: libpq's own lookup) is given to libpq and nowhere else:
`label` shows user, host, port and database, and an error's text has the password taken out.
"""

from __future__ import annotations

import os
import tempfile

import duckdb

from lakeqa.export_db.source import ExportError, Table, check_target_columns, duplicate_key_error

BLOCK = 1 << 20

# DuckDB type (information_schema's spelling) -> Postgres type; a DECIMAL keeps its precision and scale
TYPES = {
    "VARCHAR": "text", "BOOLEAN": "boolean", "TINYINT": "smallint", "SMALLINT": "smallint",
    "INTEGER": "integer", "BIGINT": "bigint", "HUGEINT": "numeric", "UTINYINT": "smallint",
    "USMALLINT": "integer", "UINTEGER": "bigint", "UBIGINT": "numeric", "FLOAT": "real",
    "DOUBLE": "double precision", "DATE": "date", "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIME": "time", "INTERVAL": "interval", "JSON": "text",
}  # fmt: skip


def postgres_type(table: str, column: str, duckdb_type: str) -> str:
    if duckdb_type in TYPES:
        return TYPES[duckdb_type]
    if duckdb_type.startswith("DECIMAL"):
        return "numeric" + duckdb_type[len("DECIMAL"):]
    raise ExportError(f"{table}.{column} has DuckDB type {duckdb_type}, which export-db has no Postgres type for")


class PostgresTarget:
    def __init__(self, url: str):
        import psycopg
        from psycopg import conninfo, sql

        self._sql = sql
        self._errors = psycopg.Error
        self._unique = psycopg.errors.UniqueViolation
        try:
            parts = conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as error:
            raise ExportError("--url is not a Postgres connection URL (postgresql://user@host:port/db)") from error
        self._password = parts.get("password") or os.environ.get("PGPASSWORD") or ""
        user = parts.get("user") or os.environ.get("PGUSER") or "(your login)"
        host = parts.get("host") or os.environ.get("PGHOST") or "localhost"
        port = parts.get("port") or os.environ.get("PGPORT") or "5432"
        db = parts.get("dbname") or os.environ.get("PGDATABASE") or user
        self.label = f"postgresql://{user}@{host}:{port}/{db}"
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=15)
        except psycopg.Error as error:
            raise ExportError(f"cannot connect to {self.label}: {self._scrub(error)}") from None

    def _scrub(self, error: BaseException) -> str:
        text = str(error).strip()
        return text.replace(self._password, "***") if self._password else text

    def close(self) -> None:
        self._conn.close()

    def _existing_columns(self, name: str) -> list[str]:
        return [n for (n,) in self._conn.execute(
            "select column_name from information_schema.columns where table_schema = current_schema()"
            " and table_name = %s order by ordinal_position", [name]).fetchall()]  # fmt: skip

    def _create(self, table: Table) -> None:
        sql = self._sql
        columns = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(postgres_type(table.name, c.name, c.duckdb_type)))
                   for c in table.columns]  # fmt: skip
        if table.key:
            columns.append(sql.SQL("primary key ({})").format(sql.SQL(", ").join(map(sql.Identifier, table.key))))
        ident = sql.Identifier(table.name)
        self._conn.execute(sql.SQL("create table if not exists {} ({})").format(ident, sql.SQL(", ").join(columns)))
        for suffix, cols in (("symbol_ts", ("symbol", "ts")), ("date", ("date",))):
            self._conn.execute(sql.SQL("create index if not exists {} on {} ({})").format(
                sql.Identifier(f"idx_{table.name}_{suffix}"), ident, sql.SQL(", ").join(map(sql.Identifier, cols))))  # fmt: skip

    def replace_window(self, source: duckdb.DuckDBPyConnection, table: Table, days: list[str]) -> int:
        """Create the table and its indexes where missing, delete the window's rows and copy the source's
        in, all in one transaction: a failure leaves the target as it was. Returns the rows copied."""
        sql = self._sql
        existing = self._existing_columns(table.name)
        check_target_columns(self.label, table, existing)
        ident = sql.Identifier(table.name)
        columns = sql.SQL(", ").join(map(sql.Identifier, table.column_names))
        quoted = '"' + table.name.replace('"', '""') + '"'
        copied = 0
        try:
            with self._conn.transaction(), tempfile.TemporaryDirectory(prefix="lakeqa-export-") as tmp:
                self._create(table)
                self._conn.execute(sql.SQL("delete from {} where date between %s and %s").format(ident),
                                   [days[0], days[-1]])  # fmt: skip
                path = os.path.join(tmp, "day.csv")
                literal = "'" + path.replace("'", "''") + "'"  # COPY takes no parameter for its file
                for day in days:
                    source.execute(f"copy (select * from {quoted} where date = cast(? as date)) to {literal}"
                                   " (format csv, header false)", [day])  # fmt: skip
                    with self._conn.cursor() as cur, open(path, "rb") as fh:
                        with cur.copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(ident, columns)) as copy:
                            while block := fh.read(BLOCK):
                                copy.write(block)
                        copied += max(cur.rowcount, 0)
        except self._unique as error:
            raise duplicate_key_error(self.label, table, self._scrub(error)) from None
        except self._errors as error:
            raise ExportError(f"{self.label}: {table.name}: {self._scrub(error)}; nothing of it was replaced") from None
        return copied

    def day_counts(self, table: Table, first: str, last: str) -> dict[str, int]:
        sql = self._sql
        if not self._existing_columns(table.name):
            return {}
        return dict(self._conn.execute(
            sql.SQL("select date::text, count(*) from {} where date between %s and %s group by 1").format(
                sql.Identifier(table.name)), [first, last]).fetchall())  # fmt: skip

    def indexes(self, name: str) -> dict[str, str]:
        """Index name -> definition, for the README's claims and the tests."""
        return dict(self._conn.execute(
            "select indexname, indexdef from pg_indexes where schemaname = current_schema() and tablename = %s",
            [name]).fetchall())  # fmt: skip
