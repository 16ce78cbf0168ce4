"""`lakeqa import`: write the lake from real exchange files."""

from __future__ import annotations

import argparse

from lakeqa.importers.api import import_paths
from lakeqa.importers.common import FORMATS
from lakeqa.settings import Paths

DESCRIPTION = """\
Import real exchange files into the lake (Hive-partitioned Parquet under --lake):
Binance public-dump CSVs, raw Binance websocket captures, and ccxt / freqtrade JSON.
Files may be plain, .gz or .zip; directories are searched recursively. Each file is parsed
whole, then written one partition file per dataset, symbol and UTC day (by exchange time),
named after the source file: importing the same file again changes nothing, and a file that
fails writes nothing."""

EPILOG = """\
examples:
  # a day of Binance trades and 1m klines from data.binance.vision
  lakeqa import BTCUSDT-trades-2024-08-09.zip BTCUSDT-1m-2024-08-09.zip

  # the websocket capture shipped with lakeqa, into ./lake
  lakeqa import data/sample/binance-ws --lake lake

  # a freqtrade trades file whose name does not say its pair
  lakeqa import --format ccxt-trades --symbol XRPETH trades.json.gz

formats (auto: told by the file name, then by the content):
  binance-trades      id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]      -> trades
  binance-aggtrades   agg_trade_id,price,quantity,first_id,last_id,time,is_buyer_maker -> trades
  binance-klines      1m klines (open_time,open,high,low,close,volume,...)             -> klines_1m
  binance-bookticker  update_id,bid,bid_qty,ask,ask_qty,transaction_time,event_time    -> quotes
  ws                  one JSON message a line, optionally after a receive time in ns:
                      trade / aggTrade -> trades, bookTicker -> quotes, others skipped
  ccxt-trades         [[ts, id, type, side, price, amount, cost], ...]                 -> trades
  ccxt-ohlcv          [[open_time, open, high, low, close, volume], ...] (1m only)     -> klines_1m
Timestamps may be in s, ms, us or ns: each value's unit is told by its magnitude."""


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import",
        help="import Binance dumps, websocket captures or ccxt JSON into the lake",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="files or directories (searched recursively)"
    )
    parser.add_argument(
        "--lake",
        default=None,
        metavar="DIR",
        help="lake root (default: $LAKE_ROOT, else the project's lake/)",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        default="auto",
        choices=("auto", *FORMATS),
        metavar="FORMAT",
        help=f"auto (default: told by the file name, then the content) or one of: {', '.join(FORMATS)}",
    )
    parser.add_argument(
        "--symbol", default=None, help="symbol to use instead of the file name's or the messages'"
    )
    parser.add_argument(
        "--max-bad-lines",
        type=int,
        default=100,
        metavar="N",
        help="stop a file (writing nothing for it) when it has more than N bad lines (default: 100)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    # the same resolution as every command: --lake, else LAKE_ROOT, else the project's lake/
    lake = Paths.from_env(lake_root=args.lake).lake_root

    def show(file_report) -> None:
        if not args.quiet:
            print(file_report.summary(), flush=True)

    report = import_paths(
        args.paths,
        lake,
        fmt=args.fmt,
        symbol=args.symbol,
        max_bad_lines=args.max_bad_lines,
        progress=not args.quiet,
        on_file=show,
    )
    if not args.quiet:
        print(f"{report.summary()}\nlake: {lake}")
    return 0
