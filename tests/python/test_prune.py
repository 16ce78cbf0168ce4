"""`lakeqa prune --keep-days N`: the dry run lists and changes nothing; the real run removes exactly the old
days' rows, files and GE results, all or nothing, and never touches the lake."""

from __future__ import annotations

import hashlib

import pytest

from lakeqa import cli, prune, snapshot
from lakeqa.generate import generate_lake

pytestmark = pytest.mark.e2e

KEEP = ["--keep-days", "2", "--today", "2024-08-10"]  # keeps 2024-08-09 and 2024-08-10


def tree_digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def day_counts(project) -> dict[str, dict[str, int]]:
    tables = [t for (t,) in project.query(
        "select table_name from information_schema.columns c join information_schema.tables t"
        " using (table_catalog, table_schema, table_name)"
        " where column_name = 'date' and table_type = 'BASE TABLE' and table_schema = 'main' order by 1")]  # fmt: skip
    return {t: dict(project.query(f'select cast(date as varchar), count(*) from "{t}" group by all')) for t in tables}


@pytest.fixture
def three_days(run_env):
    project = run_env
    generate_lake(project.lake, date="2024-08-10", days=3, trades_per_day=20_000, progress=False)
    assert cli.main(["run", "--from", "2024-08-08", "--to", "2024-08-10", "--skip", "docs", "--fail-on", "never"]) == 0
    return project


def test_prune_dry_run_then_real_run(three_days, capsys):
    project = three_days
    root, db = project.paths.output_root, project.paths.duckdb_path
    lake_before = tree_digest(project.lake)
    counts = day_counts(project)
    assert {"bars_1s", "fusion", "violations", "anomalies"} <= set(counts)
    assert all("2024-08-08" in c for t, c in counts.items() if t in ("bars_1s", "fusion")), counts
    old_files = sorted(p.relative_to(root) for p in root.rglob("2024-08-08_*") if "cache" not in p.parts)
    assert len(old_files) >= 5  # violations, anomalies, fusion, manifest, two reports
    ge_old = sorted(root.glob("ge/*/**/validations/*/2024-08-08")) + sorted(root.glob("ge/data_docs/validations/*/2024-08-08"))
    assert ge_old
    capsys.readouterr()

    db_bytes, outputs = db.read_bytes(), tree_digest(root)
    assert cli.main(["prune", *KEEP, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "keeping 2024-08-09..2024-08-10 (2 days); would remove:" in out
    assert f"{counts['fusion']['2024-08-08']:>12,} rows  fusion" in out
    assert all(str(rel) in out for rel in old_files) and "2024-08-08/" in out
    assert db.read_bytes() == db_bytes and tree_digest(root) == outputs, "the dry run changed something"

    assert cli.main(["prune", *KEEP]) == 0
    after = day_counts(project)
    for table, by_day in counts.items():
        assert after[table] == {d: n for d, n in by_day.items() if d >= "2024-08-09"}, table
    assert not [p for p in root.rglob("2024-08-08_*") if "cache" not in p.parts] and not list(root.rglob("2024-08-08"))
    kept = [root / str(rel).replace("2024-08-08", "2024-08-09") for rel in old_files]
    assert all(p.is_file() for p in kept), [p for p in kept if not p.is_file()]
    index = (root / "ge" / "data_docs" / "index.html").read_text()
    assert "2024-08-08" not in index and "2024-08-09" in index, "the Data Docs index links a pruned result"
    assert tree_digest(project.lake) == lake_before, "prune touched the lake"
    assert not list(root.glob(".prune-*"))
    # nothing left to prune: a second run says so
    assert cli.main(["prune", *KEEP]) == 0
    assert "nothing: every day kept" in capsys.readouterr().out


def test_a_prune_that_fails_half_way_leaves_everything(three_days, monkeypatch):
    project = three_days
    root, db = project.paths.output_root, project.paths.duckdb_path
    outputs, counts = tree_digest(root), day_counts(project)

    def broken_publish(working, published):
        raise OSError("disk full while publishing (simulated)")

    monkeypatch.setattr(snapshot, "publish", broken_publish)
    with pytest.raises(OSError, match="simulated"):
        cli.main(["prune", *KEEP])
    assert tree_digest(root) == outputs, "files were lost"
    assert day_counts(project) == counts, "rows were deleted from what analysts read"
    assert not list(root.glob(".prune-*"))
    monkeypatch.undo()
    # the working file's deletes were not published: the next run starts again from what analysts read
    working = snapshot.prepare(db)
    assert prune.plan(working, root, "2024-08-09").rows == prune.plan(db, root, "2024-08-09").rows != {}
