"""Importers: write the lake from real exchange files (Binance dumps, websocket captures, ccxt JSON).

from lakeqa.importers import import_paths
report = import_paths(["BTCUSDT-trades-2024-08-09.zip"], "lake")
print(report.summary())
"""

from lakeqa.importers.api import import_file, import_paths, name_info, sniff
from lakeqa.importers.common import FORMATS, BadLine, FileReport, ImportReport, NotOneMinuteError

__all__ = [
    "FORMATS",
    "BadLine",
    "FileReport",
    "ImportReport",
    "NotOneMinuteError",
    "import_file",
    "import_paths",
    "name_info",
    "sniff",
]
