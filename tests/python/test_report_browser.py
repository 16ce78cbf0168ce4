"""The HTML report in a real browser: headless Chromium renders the charts, offline, with no request.

Two independent checks, both with DNS resolution disabled (``--host-resolver-rules="MAP * ~NOTFOUND"``):

1. Chromium's command line: ``--dump-dom`` shows the SVG charts in the rendered DOM and ``--screenshot``
   writes a PNG that is large and far from blank (decoded here with zlib and struct only).
2. The DevTools protocol over a websocket (a small stdlib client below): with the Network domain enabled,
   every request the page makes is reported; loading the report must produce exactly one request, the
   report's own file:// URL. A negative control (the same report plus an external <img>, without the CSP)
   proves that the monitor does see external requests. The rendered DOM is measured in the page (each
   chart has a non-zero on-screen size; the Resource Timing API lists no resource) and a screenshot of one
   chart, clipped to its box, must show the close line and the violation and anomaly marker colours.

Skipped when Chromium is not installed (CI installs it: `apt-get install -y chromium`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from lakeqa.report import write_report

from .test_report import SUMMER, SUMMER_SYMBOLS, build_db

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium); CI installs it"
)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    db = build_db(root / "qa.duckdb")
    return Path(write_report(db, SUMMER, root / "out")["html_path"])


# --------------------------------------------------------------------------------------------------------
# PNG decoding with the standard library


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, bytes per pixel, rows of raw pixel bytes) of an 8-bit RGB/RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def colours(png: bytes, step: int = 1) -> dict[tuple[int, int, int], int]:
    """Pixel counts by RGB colour (every `step`-th pixel of every `step`-th row)."""
    width, _, bpp, rows = decode_png(png)
    counts: dict[tuple[int, int, int], int] = {}
    for row in rows[::step]:
        for x in range(0, width, step):
            px = (row[x * bpp], row[x * bpp + 1], row[x * bpp + 2])
            counts[px] = counts.get(px, 0) + 1
    return counts


def near(counts: dict[tuple[int, int, int], int], hex_colour: str, tol: int = 40) -> int:
    """How many pixels are within `tol` (per channel) of a colour."""
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(
        n for px, n in counts.items() if all(abs(p - t) <= tol for p, t in zip(px, target, strict=True))
    )


# --------------------------------------------------------------------------------------------------------
# 1. Chromium's command line: --dump-dom and --screenshot


def run_chromium(args: list[str], profile: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_dump_dom_has_the_charts(report_html: Path, tmp_path: Path) -> None:
    done = run_chromium(
        ["--virtual-time-budget=3000", "--dump-dom", report_html.as_uri()], tmp_path / "profile"
    )
    dom = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert dom.count('<svg class="chart chart-symbol"') == len(SUMMER_SYMBOLS)
    assert dom.count('<svg class="chart chart-counts"') == 3
    # Every symbol with bars has its close line (DOGEUSDT has none); BTCUSDT's breaks at its NaN minute.
    assert dom.count("<polyline") == 5
    assert "lakeqa QA report — 2024-08-09 (daily)" in dom


def test_screenshot_is_not_blank(report_html: Path, tmp_path: Path) -> None:
    png_path = tmp_path / "report.png"
    done = run_chromium(
        ["--window-size=1100,760", f"--screenshot={png_path}", report_html.as_uri()], tmp_path / "profile"
    )
    assert png_path.is_file(), done.stderr[-2000:]
    png = png_path.read_bytes()
    assert len(png) > 20_000
    width, height, _, _ = decode_png(png)
    assert (width, height) == (1100, 760)
    counts = colours(png, step=2)
    background = max(counts.values())
    assert background < 0.9 * sum(counts.values()), "the page is (almost) one colour"
    assert len(counts) > 200, "too few colours for a page with text, tables and badges"
    assert near(counts, "#c62828") > 20  # the FAIL badges are drawn


# --------------------------------------------------------------------------------------------------------
# 2. The DevTools protocol: every network request, the DOM in the page, a clipped chart screenshot


class DevTools:
    """The smallest websocket client the DevTools protocol needs (RFC 6455, text frames, client masking)."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buf = bytearray()
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0].split()[1] == b"101", head
        self.buf = bytearray(rest)
        self.next_id = 0
        self.events: list[dict] = []

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("DevTools closed the connection")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def _receive(self) -> dict:
        parts = []
        while True:
            b1, b2 = self._take(2)
            opcode, n = b1 & 0x0F, b2 & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", self._take(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", self._take(8))
            mask = self._take(4) if b2 & 0x80 else None
            payload = self._take(n)
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the websocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if b1 & 0x80:
                    return json.loads(b"".join(parts))

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send_frame(0x1, json.dumps(message).encode())
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(method)
            self.events.append(self._receive())

    def drain(self, seconds: float) -> None:
        """Collect the events that arrive within `seconds`."""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError, socket.timeout):
                    self.events.append(self._receive())
        finally:
            self.sock.settimeout(60)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, b"")
        self.sock.close()


@pytest.fixture()
def devtools(tmp_path: Path):
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
            assert proc.poll() is None, "Chromium exited before opening the DevTools port"
            assert time.monotonic() < deadline, "Chromium did not open the DevTools port"
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        client = DevTools(int(port), path)
        yield client
    finally:
        if client is not None:
            client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the process group this fixture started, nothing else
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def open_page(dt: DevTools, url: str, width: int = 1400, height: int = 1000) -> tuple[str, list[str]]:
    """Load `url` in a new tab; return the session and the URL of every network request the page made."""
    target = dt.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    dt.call("Network.enable", {}, session)
    dt.call("Page.enable", {}, session)
    dt.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        session,
    )
    dt.events.clear()
    dt.call("Page.navigate", {"url": url}, session)
    dt.wait_for("Page.loadEventFired")
    dt.drain(1.5)  # anything fetched late (fonts, lazy images) still shows up
    requests = [
        e["params"]["request"]["url"]
        for e in dt.events
        if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session
    ]
    return session, requests


def evaluate(dt: DevTools, session: str, expression: str):
    result = dt.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    assert "exceptionDetails" not in result, result
    return result["result"]["value"]


def test_devtools_no_network_request_and_charts_drawn(report_html: Path, devtools: DevTools, tmp_path: Path):
    session, requests = open_page(devtools, report_html.as_uri())
    # The only request is the report itself: no script, stylesheet, font, image or anything else.
    assert requests == [report_html.as_uri()]
    assert evaluate(devtools, session, "performance.getEntriesByType('resource').length") == 0

    charts = evaluate(
        devtools,
        session,
        """[...document.querySelectorAll('svg.chart')].map(s => {
               const r = s.getBoundingClientRect();
               return {cls: s.getAttribute('class'), label: s.getAttribute('aria-label'),
                       w: r.width, h: r.height, marks: s.querySelectorAll('polygon,rect,circle').length,
                       lines: s.querySelectorAll('polyline').length};
           })""",
    )
    symbol_charts = [c for c in charts if "chart-symbol" in c["cls"]]
    assert len(symbol_charts) == len(SUMMER_SYMBOLS)
    assert len([c for c in charts if "chart-counts" in c["cls"]]) == 3
    for c in charts:
        assert c["w"] > 250 and c["h"] > 80, c  # laid out at a legible size
    btc = next(c for c in symbol_charts if c["label"].startswith("BTCUSDT"))
    assert btc["lines"] == 2 and btc["marks"] > 4  # the line breaks at the NaN close
    # Small multiples: several charts side by side on a wide screen.
    tops = evaluate(
        devtools,
        session,
        "[...document.querySelectorAll('svg.chart-symbol')].map(s => s.getBoundingClientRect().top)",
    )
    assert len(set(round(t) for t in tops)) < len(tops)

    # A screenshot of BTCUSDT's chart, clipped to its box: the close line and the markers are painted.
    box = evaluate(
        devtools,
        session,
        """(() => { const s = document.querySelector('svg[aria-label^="BTCUSDT:"]');
                    s.scrollIntoView(); const r = s.getBoundingClientRect();
                    return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width,
                            height: r.height}; })()""",
    )
    shot = devtools.call(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {**box, "scale": 1}},
        session,
    )
    png = base64.b64decode(shot["data"])
    (tmp_path / "btcusdt_chart.png").write_bytes(png)
    counts = colours(png)
    assert near(counts, "#334155", 50) > 60  # the close line (thin and anti-aliased)
    assert near(counts, "#d62728", 30) > 10  # critical violations (triangles, gap span)
    assert near(counts, "#e377c2", 30) > 5  # the JUMP anomaly
    assert near(counts, "#1f77b4", 30) > 5  # the ZSCORE_SPREAD_BP anomalies


def test_devtools_monitor_sees_external_requests(report_html: Path, devtools: DevTools, tmp_path: Path):
    """Negative control: the same report with an external image (and no CSP) is caught by the monitor,
    so the empty request list above means something."""
    html = report_html.read_text(encoding="utf-8")
    start = html.index('<meta http-equiv="Content-Security-Policy"')
    html = html[:start] + html[html.index(">", start) + 1 :]
    html = html.replace("</main>", '<img src="http://lakeqa-probe.invalid/pixel.png" alt=""></main>')
    leaky = tmp_path / "leaky.html"
    leaky.write_text(html, encoding="utf-8")
    _, requests = open_page(devtools, leaky.as_uri())
    assert "http://lakeqa-probe.invalid/pixel.png" in requests
