"""`lakeqa export-db` into a real Postgres (a throw-away cluster: tests/postgres/cluster.sh, which `make test`
and .ci/run start) and into SQLite: counts verified, keys and indexes present, a re-run changes nothing, a
day re-exported alone replaces that day only, a forced mismatch exits non-zero, no password in the output."""

from __future__ import annotations

import math
import os
import sqlite3
import uuid

import pytest

from lakeqa import cli
from lakeqa.export_db import source
from lakeqa.export_db.command import EXIT_MISMATCH
from lakeqa.export_db.source import DEFAULT_TABLES, ExportError
from lakeqa.settings import project_defaults

pytestmark = pytest.mark.e2e

DAYS = ("2024-08-08", "2024-08-09")
PG_ENV = "LAKEQA_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url():
    """A schema of its own in the throw-away cluster, as a URL whose search_path is that schema."""
    url = os.environ.get(PG_ENV)
    if not url:
        reason = f"no Postgres: {PG_ENV} is unset (make test starts a throw-away cluster where postgresql is installed)"
        if os.environ.get("LAKEQA_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + "; LAKEQA_REQUIRE_POSTGRES=1 (CI) needs it")
        pytest.skip(reason)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
    yield f"{url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"drop schema {schema} cascade")


class Postgres:
    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def query(self, sql: str, params=()) -> list[tuple]:
        return self.conn.execute(sql.replace("?", "%s"), list(params)).fetchall()

    def run(self, sql: str) -> None:
        self.conn.execute(sql)

    def indexes(self, table: str) -> set[str]:
        return {n for (n,) in self.query("select indexname from pg_indexes where schemaname = current_schema()"
                                         " and tablename = ?", [table])}  # fmt: skip

    def primary_key(self, table: str) -> tuple[str, ...]:
        return tuple(n for (n,) in self.query(
            "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)"
            " where i.indrelid = ?::regclass and i.indisprimary order by array_position(i.indkey, a.attnum)", [table]))  # fmt: skip


class SQLite:
    def __init__(self, url: str):
        self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)

    def query(self, sql: str, params=()) -> list[tuple]:
        return self.conn.execute(sql, list(params)).fetchall()

    def run(self, sql: str) -> None:
        self.conn.executescript(sql)

    def indexes(self, table: str) -> set[str]:
        return {row[1] for row in self.query(f"pragma index_list({table})")}

    def primary_key(self, table: str) -> tuple[str, ...]:
        info = sorted((row[5], row[1]) for row in self.query(f"pragma table_info({table})") if row[5])
        return tuple(name for _, name in info)


@pytest.fixture(params=["postgres", "sqlite"])
def target(request, tmp_path):
    """(url, client) of an empty target database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'qa.sqlite'}"
        client = SQLite(url)
    else:
        url = request.getfixturevalue("postgres_url")
        client = Postgres(url)
    yield url, client
    client.conn.close()


def export(project, url: str, *window: str, tables=()) -> int:
    args = ["export-db", "--duckdb", str(project.paths.duckdb_path), "--url", url, *window]
    return cli.main(args + (["--tables", *tables] if tables else []))


def source_counts(project) -> dict[tuple[str, str], int]:
    counts = {}
    for table in DEFAULT_TABLES:
        for day, n in project.query(f"select cast(date as varchar), count(*) from {table} group by 1"):
            counts[(table, day)] = n
    return counts


def target_counts(client) -> dict[tuple[str, str], int]:
    counts = {}
    for table in DEFAULT_TABLES:
        for day, n in client.query(f"select cast(date as text), count(*) from {table} group by 1"):
            counts[(table, str(day))] = n
    return counts


def same_value(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return b is None or (isinstance(b, float) and math.isnan(b))  # SQLite has no NaN: NULL
    if isinstance(a, float):
        return float(b) == a
    if isinstance(a, bool):
        return bool(b) == a
    return str(a) == str(b) or a == b


def test_the_window_is_exported_verified_keyed_and_indexed(faulted_lake_build, target, capsys):
    url, client = target
    project = faulted_lake_build
    assert export(project, url, "--from", DAYS[0], "--to", DAYS[1]) == 0
    out, err = capsys.readouterr()
    expected = source_counts(project)
    assert target_counts(client) == expected
    # the verification lists every table and day, source against target
    for (table, day), n in expected.items():
        assert any(line.split()[:2] == [table, day] and f"source {n:,} / target {n:,} ✓" in line
                   for line in out.splitlines()), (table, day)  # fmt: skip
    assert f"{len(DEFAULT_TABLES) * 2} count(s) match" in out
    for table in DEFAULT_TABLES:
        assert {f"idx_{table}_symbol_ts", f"idx_{table}_date"} <= client.indexes(table), table
    assert client.primary_key("bars_1s") == ("symbol", "ts")
    assert client.primary_key("bars_1m") == ("symbol", "ts")
    assert client.primary_key("fusion") == ("symbol", "ts", "mode")
    assert client.primary_key("anomalies") == ("symbol", "ts", "detector")
    assert client.primary_key("violations") == () and client.primary_key("klines_1m") == ()
    # the values, not only the counts: every column of the busiest bars_1s symbol-day and all verdicts
    for table, where in (("bars_1s", "symbol = 'BTCUSDT' and ts < timestamp '2024-08-09 01:00:00'"), ("fusion", "true")):
        names = [r[0] for r in project.query(f"select column_name from information_schema.columns where table_name = '{table}'"
                                             " order by ordinal_position")]  # fmt: skip
        ours = project.query(f"select * from {table} where date = '{DAYS[1]}' and {where} order by symbol, ts")
        theirs = client.query(f"select * from {table} where cast(date as text) = '{DAYS[1]}' and symbol in "
                              f"({', '.join(repr(s) for s in {r[names.index('symbol')] for r in ours})})"
                              " order by symbol, ts")  # fmt: skip
        theirs = [r for r in theirs if str(r[names.index("ts")]) in {str(o[names.index("ts")]) for o in ours}]
        assert ours and len(theirs) == len(ours), table
        for a, b in zip(ours, theirs, strict=True):
            assert all(same_value(x, y) for x, y in zip(a, b, strict=True)), (table, a, b)


def test_a_rerun_changes_nothing_and_a_day_alone_replaces_that_day_only(faulted_lake_build, target):
    url, client = target
    project = faulted_lake_build
    assert export(project, url, "--from", DAYS[0], "--to", DAYS[1]) == 0
    before = target_counts(client)
    assert export(project, url, "--from", DAYS[0], "--to", DAYS[1]) == 0
    assert target_counts(client) == before
    # someone edits both days in the target and adds a day lakeqa never built
    client.run("update fusion set reason = 'edited' where true")
    client.run(f"delete from bars_1s where cast(date as text) = '{DAYS[1]}' and symbol = 'BTCUSDT'")
    client.run("insert into fusion (ts, date, symbol, mode, verdict) values "
               "('2024-08-10 00:00:00', '2024-08-10', 'ZZZUSDT', 'daily', 'PASS')")  # fmt: skip
    assert export(project, url, "--day", DAYS[1]) == 0
    reasons = dict(client.query("select cast(date as text), min(reason) from fusion group by 1"))
    assert reasons[DAYS[0]] == "edited"  # the day not exported is as the target held it
    assert reasons[DAYS[1]] != "edited"  # the exported day is the mart's again
    assert reasons["2024-08-10"] is None  # outside the window: kept
    assert {k: v for k, v in target_counts(client).items() if k[1] in DAYS} == before


def test_a_target_that_drops_rows_fails_the_verification(faulted_lake_build, target, capsys):
    url, client = target
    project = faulted_lake_build
    assert export(project, url, "--day", DAYS[1], "--tables", "bars_1m") == 0
    # a trigger on the target silently skips one symbol's rows
    if isinstance(client, SQLite):
        client.run("create trigger skip_eth before insert on bars_1m when new.symbol = 'ETHUSDT' "
                   "begin select raise(ignore); end;")  # fmt: skip
    else:
        client.run("create function skip_eth() returns trigger language plpgsql as $$ begin "
                   "if new.symbol = 'ETHUSDT' then return null; end if; return new; end $$;"
                   "create trigger skip_eth before insert on bars_1m for each row execute function skip_eth();")  # fmt: skip
    capsys.readouterr()
    assert export(project, url, "--day", DAYS[1], "--tables", "bars_1m") == EXIT_MISMATCH
    out, err = capsys.readouterr()
    n = project.query(f"select count(*) from bars_1m where date = '{DAYS[1]}'")[0][0]
    eth = project.query(f"select count(*) from bars_1m where date = '{DAYS[1]}' and symbol = 'ETHUSDT'")[0][0]
    assert eth > 0
    assert f"source {n:,} / target {n - eth:,} ✗ MISMATCH" in out
    assert f"1 of 1 count(s) differ: bars_1m {DAYS[1]} (source {n}, target {n - eth})" in err


def test_a_target_table_of_other_columns_is_refused_and_left_alone(faulted_lake_build, target, capsys):
    url, client = target
    client.run("create table fusion (symbol text, verdict text); insert into fusion values ('X', 'PASS');")
    assert export(faulted_lake_build, url, "--day", DAYS[1], "--tables", "bars_1m", "fusion") == 1
    err = capsys.readouterr().err
    assert "table fusion has columns (symbol, verdict) but the mart has (ts, date, symbol, mode" in err
    assert client.query("select * from fusion") == [("X", "PASS")]


def test_the_password_never_reaches_the_output(faulted_lake_build, postgres_url, capsys):
    import psycopg.conninfo

    password = psycopg.conninfo.conninfo_to_dict(postgres_url)["password"]
    assert export(faulted_lake_build, postgres_url, "--day", DAYS[1], "--tables", "fusion") == 0
    wrong = postgres_url.replace(f":{password}@", ":not-the-password-x9@")
    assert export(faulted_lake_build, wrong, "--day", DAYS[1], "--tables", "fusion") == 1
    out, err = capsys.readouterr()
    assert "cannot connect to postgresql://lakeqa@" in err and "password authentication failed" in err
    assert password not in out + err and "not-the-password-x9" not in out + err
    assert "postgresql://lakeqa@127.0.0.1:" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--url", "mysql://x/y", "--day", DAYS[1]], "--url must start with postgresql:// or sqlite:///, not 'mysql'"),
        (["--url", "sqlite:///{tmp}/q.sqlite", "--day", DAYS[1], "--tables", "nope"], "unknown table 'nope'"),
        (["--url", "sqlite:///{tmp}/q.sqlite", "--day", DAYS[1], "--tables", "rule_catalog"],
         "rule_catalog has no symbol, ts, date column"),
        (["--url", "sqlite:///{tmp}/q.sqlite", "--day", DAYS[1], "--tables", "detector_background"],
         "detector_background has no ts column"),
        (["--url", "sqlite:///{tmp}/q.sqlite", "--day", "2024-08-11"],
         "has no rows of bars_1s, bars_1m, klines_1m, compare_our_vs_kline_1m, violations, anomalies, fusion from "
         "2024-08-11 to 2024-08-11; it holds 2 day(s), 2024-08-08 to 2024-08-09"),
        (["--url", "sqlite:///{tmp}/no/q.sqlite", "--day", DAYS[1]], "/no does not exist"),
        (["--url", "sqlite:///:memory:", "--day", DAYS[1]], "a SQLite --url names a file"),
        (["--url", "sqlite:///{tmp}/q.sqlite", "--from", DAYS[0]], "--from needs --to"),
    ],
)
def test_what_cannot_be_exported_is_named(faulted_lake_build, tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert cli.main(["export-db", "--duckdb", str(faulted_lake_build.paths.duckdb_path), *args]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "q.sqlite").exists()


def test_a_primary_key_only_where_dbt_fails_a_duplicate():
    models = source._marts_yml(source.PROJECT_DIR)
    defaults = project_defaults()
    assert source.declared_key(models["bars_1s"], defaults) == ("symbol", "ts")
    assert source.declared_key(models["bars_1s"], {**defaults, "use_prebuilt_bars": True}) is None
    assert source.declared_key(models["compare_our_vs_kline_1m"], defaults) is None  # its grain test warns
    assert source.declared_key(models["violations"], defaults) is None  # no natural key
    assert source.declared_key(models["fusion"], defaults) == ("symbol", "ts", "mode")
    with pytest.raises(ExportError, match="no Postgres type"):
        from lakeqa.export_db.postgres import postgres_type

        postgres_type("t", "c", "STRUCT(a INTEGER)")
