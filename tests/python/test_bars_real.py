"""Bars built from real Binance trades equal Binance's own klines (end to end through dbt)."""

from __future__ import annotations

import pytest

from lakeqa.importers.api import import_paths

from .conftest import SAMPLE, real_data

pytestmark = pytest.mark.e2e


def test_xrpeth_bars_equal_exchange_klines(dbt_project):
    folder = real_data("freqtrade-binance-xrpeth")
    import_paths([folder / "XRP_ETH-trades.json.gz", folder / "XRP_ETH-1m.json"], dbt_project.lake, progress=False)
    dbt_project.build({"from": "2019-10-11", "to": "2019-10-13"})

    # every exchange minute with trades: our bar has the same OHLC exactly and the volume within 1e-9
    mismatches = dbt_project.query(
        """
        select k.ts, b.open, k.open, b.high, k.high, b.low, k.low, b.close, k.close, b.volume_base, k.volume
        from klines_1m k
        left join bars_1m b on b.symbol = k.symbol and b.ts = k.ts
        where k.volume > 0
          and (b.ts is null or b.open != k.open or b.high != k.high or b.low != k.low or b.close != k.close
               or abs(b.volume_base - k.volume) > 1e-9 * k.volume)
        """
    )
    assert mismatches == []
    n_traded = dbt_project.query("select count(*) from klines_1m where volume > 0")[0][0]
    assert n_traded == 2469

    presence = dict(
        dbt_project.query(
            "select presence || ':' || is_match, count(*) from compare_our_vs_kline_1m group by all"
        )
    )
    # zero-volume exchange minutes show as exchange-only matches; nothing is a mismatch
    assert presence == {"both:true": 2469, "exchange_only:true": 1091}
    # every rule ran on the real data (bars and the exchange's klines) and found nothing on the two whole
    # days; the window ends 2019-10-13 11:19 (SOURCE.md), and completeness says so: that day did not arrive
    assert dbt_project.query("select count(*) from violations where date < '2019-10-13'") == [(0,)]
    verdicts = dict(dbt_project.query("select cast(date as varchar), verdict || ': ' || reason from fusion"))
    assert verdicts["2019-10-11"].startswith("PASS") and verdicts["2019-10-12"].startswith("PASS"), verdicts
    assert verdicts["2019-10-13"].startswith("FAIL: C5_ROW_DROP: trades: 2,414 rows, 52 % fewer"), verdicts
    assert "C1_TRADE_GAP" in verdicts["2019-10-13"], verdicts
    gap = dbt_project.query("select detail from violations where rule = 'C1_TRADE_GAP'")
    assert gap and gap[0][0].startswith("no trades 11:19:29–24:00 UTC"), gap
    last_day = dbt_project.query("select distinct rule from violations where date = '2019-10-13' order by 1")
    # the trades stop at 11:19:28.8 and the day's count is far below the two days before it
    assert last_day == [("C1_TRADE_GAP",), ("C5_ROW_DROP",)], last_day


def test_capture_across_midnight_puts_every_bar_in_its_day(dbt_project):
    import_paths([SAMPLE / "binance-ws"], dbt_project.lake, progress=False)
    dbt_project.build({"from": "2024-08-08", "to": "2024-08-09"})
    wrong_day = dbt_project.query(
        "select count(*) from bars_1s where date != cast(ts as date)"
        " union all select count(*) from bars_1m where date != cast(ts as date)"
    )
    assert wrong_day == [(0,), (0,)]
    per_day = dict(dbt_project.query("select cast(date as varchar), count(*) from bars_1s group by all"))
    assert set(per_day) == {"2024-08-08", "2024-08-09"}
    # every trade of the capture is in exactly one 1s bar
    trades = dbt_project.query(
        "select count(*) from (select distinct symbol, trade_id from read_parquet("
        f"'{dbt_project.lake}/trades/*/*/*.parquet', hive_partitioning = true))"
    )[0][0]
    in_bars = dbt_project.query("select sum(trade_count) from bars_1s")[0][0]
    assert in_bars == trades


def test_full_real_capture_across_midnight(dbt_project):
    folder = real_data("hftbacktest-binance-ws", "spot")
    import_paths([folder], dbt_project.lake, progress=False)
    dbt_project.build({"day": "2024-08-09"})
    dbt_project.build({"day": "2024-08-08"})
    rows = dict(
        dbt_project.query(
            "select symbol || ' ' || cast(date as varchar), sum(trade_count) from bars_1s group by all"
        )
    )
    # SOURCE.md: 19,904 BTCUSDT and 14,515 ETHUSDT trades, split by exchange time at midnight
    assert rows["BTCUSDT 2024-08-08"] + rows["BTCUSDT 2024-08-09"] == 19904
    assert rows["ETHUSDT 2024-08-08"] + rows["ETHUSDT 2024-08-09"] == 14515
    assert dbt_project.query("select min(ts) >= timestamp '2024-08-09' from bars_1s where date = '2024-08-09'")[0][0]
    assert dbt_project.query("select max(ts) < timestamp '2024-08-09' from bars_1s where date = '2024-08-08'")[0][0]
    # every rule ran on the real capture: the only findings are its edges, a capture that starts and ends
    # inside a day, which completeness reports as silences at the day's edges
    found = dbt_project.query("select rule, json_extract_string(row_sample, '$.edge') from violations")
    assert found and {rule for rule, _ in found} <= {"C1_TRADE_GAP", "C2_QUOTE_GAP"}, found
    assert {edge for _, edge in found} <= {"start", "end"}, found
