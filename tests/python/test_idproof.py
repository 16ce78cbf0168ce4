"""lakeqa.idproof: which lake files hold each id once (dense by their statistics, or strictly increasing
in file order), read while dbt starts so staging can skip the hash dedupe's proof."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeqa import idproof

DAY = "2024-08-09"


def write_ids(path, ids, row_group_size=4):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"update_id": pa.array(ids, pa.int64())}), path, row_group_size=row_group_size)
    return path


@pytest.mark.parametrize(
    "ids, unique",
    [
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], True),  # dense: the statistics alone say so
        ([10, 12, 13, 20, 21, 35, 36, 90, 91], True),  # gaps, increasing across row groups
        ([10, 12, 13, 20, 20, 35, 36, 90, 91], False),  # one id twice, side by side
        ([10, 12, 13, 20, 9, 35, 36, 90, 91], False),  # out of order inside a row group
        ([10, 12, 13, 20, 19, 25, 36, 90, 91], False),  # a row group starting below the last one's end
        ([1, 3, 2, 4, 5, 6, 7, 8, 9], True),  # out of order, but dense: no id can repeat
        ([10, 12, None, 20, 21], False),  # a NULL id
    ],
)
@pytest.mark.parametrize("batch_rows", [idproof.BATCH_ROWS, 4, 3])  # 4, 3: across batches too
def test_ids_unique_within_a_file(tmp_path, monkeypatch, ids, unique, batch_rows):
    monkeypatch.setattr(idproof, "BATCH_ROWS", batch_rows)
    assert idproof.ids_unique_within(write_ids(tmp_path / "f.parquet", ids), "update_id") is unique


def test_the_proof_does_not_import_pandas(tmp_path):
    """The proof runs in dbt's process while it parses: pandas there (~35 MB, through pyarrow's to_numpy)
    would be held through the bars, the run's peak of memory, before any model needs it."""
    path = write_ids(tmp_path / "f.parquet", [10, 12, 13, 20, 21, 35, 36, 90, 91])
    script = ("import sys; from lakeqa import idproof; "
              f"assert idproof.ids_unique_within({str(path)!r}, 'update_id'); "
              "print('pandas' in sys.modules)")  # fmt: skip
    imported = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "False"


def test_an_unreadable_file_is_not_listed(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not a parquet file")
    assert idproof.ids_unique_within(bad, "update_id") is False
    assert idproof.ids_unique_within(write_ids(tmp_path / "f.parquet", [1, 2]), "no_such_column") is False


def test_the_list_covers_the_days_partitions_except_quarantined_files(tmp_path):
    lake = tmp_path / "lake"
    good = write_ids(lake / "quotes" / "symbol=AAAUSDT" / f"date={DAY}" / "a.parquet", [5, 9, 14])
    twice = write_ids(lake / "quotes" / "symbol=BBBUSDT" / f"date={DAY}" / "b.parquet", [5, 9, 9])
    kept_out = write_ids(lake / "quotes" / "symbol=CCCUSDT" / f"date={DAY}" / "c.parquet", [1, 2])
    write_ids(lake / "quotes" / "symbol=AAAUSDT" / "date=2024-08-10" / "other-day.parquet", [1, 2])
    assert idproof.files_with_unique_ids(lake, [DAY], {str(kept_out)}) == [str(good)]
    assert str(twice) not in idproof.files_with_unique_ids(lake, [DAY])

    listed = tmp_path / "out" / "unique_id_files.json"
    listed.parent.mkdir()
    listed.write_text("[\"stale\"]")
    proof = idproof.Proof(listed, lake, [DAY], set())
    assert not listed.exists() or json.loads(listed.read_text()) != ["stale"]  # another run's list is gone
    on_event = proof.wait_at_first_node()

    class Event:
        class info:
            name = "NodeStart"

    on_event(Event())  # dbt's first node waits for the list
    assert json.loads(listed.read_text()) == [str(good), str(kept_out)]
    started = time.monotonic()
    on_event(Event())  # later nodes do not wait
    assert time.monotonic() - started < 1.0
