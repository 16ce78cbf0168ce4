"""Alerts after a run: its FAIL verdicts (or REVIEW and FAIL, setting alerts.on) to the people who act on them.

Where they go comes from the environment, never from dbt vars or the command line (the URLs hold tokens):
- LAKEQA_ALERT_WEBHOOK: a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Discord's
  /slack endpoint, or your own): an HTTP POST of {"text": ...}.
- LAKEQA_ALERT_APPRISE: apprise URLs separated by spaces (mailto://, tgram://, msteams://, ntfy://, json://,
  ... every channel apprise supports: https://github.com/caronc/apprise/wiki).

A condition is one symbol's verdict in one mode (FAIL for BNBUSDT in daily runs); each is sent at most once
per alerts.min_interval_minutes (60), remembered in <QA_OUTPUT_ROOT>/alerts/state.json between runs, and one
message per run carries every condition not sent within that time: symbol, day, verdict, reason and where
the report is. A channel that times out (alerts.timeout_s) or fails is reported on stderr, by scheme and
host only, and never fails the QA run; its conditions are not marked sent, so the next run tries again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lakeqa import atomic

WEBHOOK_ENV = "LAKEQA_ALERT_WEBHOOK"
APPRISE_ENV = "LAKEQA_ALERT_APPRISE"
RANK = {"PASS": 0, "REVIEW": 1, "FAIL": 2}


@dataclass(frozen=True)
class Condition:
    mode: str
    day: str
    symbol: str
    verdict: str
    reason: str
    report: str | None

    @property
    def key(self) -> str:
        return f"{self.mode}:{self.symbol}:{self.verdict}"

    def line(self) -> str:
        where = f" Report: {self.report}" if self.report else ""
        return f"{self.verdict} {self.symbol} {self.day} ({self.mode}): {self.reason}.{where}"


def redacted(url: str) -> str:
    """scheme://host of a URL: enough to tell which channel failed, without the token in its path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def state_path(output_root: Path) -> Path:
    return output_root / "alerts" / "state.json"


def _load_state(path: Path) -> dict[str, str]:
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def due(conditions: list[Condition], state: dict[str, str], now: dt.datetime, interval_min: float) -> list[Condition]:
    """The conditions not sent within the last `interval_min` minutes (one per key)."""
    out, keys = [], set()
    for condition in conditions:
        last = state.get(condition.key)
        recent = last is not None and now - dt.datetime.fromisoformat(last) < dt.timedelta(minutes=interval_min)
        if not recent and condition.key not in keys:
            keys.add(condition.key)
            out.append(condition)
    return out


def _post_webhook(url: str, text: str, timeout: float) -> None:
    import requests

    response = requests.post(url, json={"text": text}, timeout=timeout)
    response.raise_for_status()


def _notify_apprise(urls: list[str], title: str, body: str, timeout: float) -> None:
    import apprise

    asset = apprise.AppriseAsset(async_mode=False)
    notifier = apprise.Apprise(asset=asset)
    for url in urls:
        if not notifier.add(url):
            raise ValueError(f"not an apprise URL: {redacted(url)}")
    for server in notifier:
        # apprise's HTTP plugins take their timeouts from these
        server.socket_connect_timeout = timeout
        server.socket_read_timeout = timeout
    if not notifier.notify(title=title, body=body):
        raise RuntimeError("apprise reported a failed delivery")


def settings(overrides: dict | None = None) -> dict:
    """The alerts.* settings with the run's --vars applied; a bad `alerts.on` is a LakeError."""
    from lakeqa.lake import LakeError
    from lakeqa.settings import setting

    values = {name: setting(name, overrides) for name in ("alerts.on", "alerts.min_interval_minutes", "alerts.timeout_s")}
    if str(values["alerts.on"]).upper() not in ("FAIL", "REVIEW"):
        raise LakeError(f"setting alerts.on must be FAIL or REVIEW, got {values['alerts.on']!r}")
    return values


def send(conditions: list[Condition], output_root: Path, settings: dict, environ=os.environ) -> list[str]:
    """Send the due conditions to every configured channel; returns the channels (redacted) that took the
    message. Never raises for a channel: failures go to stderr."""
    webhook = environ.get(WEBHOOK_ENV, "").strip()
    apprise_urls = environ.get(APPRISE_ENV, "").split()
    if not (webhook or apprise_urls):
        return []
    threshold = RANK[str(settings["alerts.on"]).upper()]
    wanted = [c for c in conditions if RANK.get(c.verdict, 0) >= threshold]
    path = state_path(output_root)
    state = _load_state(path)
    now = dt.datetime.now(dt.timezone.utc)
    todo = due(wanted, state, now, float(settings["alerts.min_interval_minutes"]))
    if not todo:
        return []
    timeout = float(settings["alerts.timeout_s"])
    title = f"lakeqa: {len(todo)} symbol-day(s) at {settings['alerts.on']} or worse"
    body = "\n".join(c.line() for c in todo)
    delivered = []
    channels = ([(redacted(webhook), lambda: _post_webhook(webhook, f"{title}\n{body}", timeout))] if webhook else [])
    if apprise_urls:
        name = ", ".join(redacted(u) for u in apprise_urls)
        channels.append((name, lambda: _notify_apprise(apprise_urls, title, body, timeout)))
    for name, deliver in channels:
        try:
            deliver()
            delivered.append(name)
        except Exception as exc:  # noqa: BLE001 - a channel's failure must never fail the QA run
            # the exception's type and HTTP status only: its text can carry the URL and its token
            status = getattr(getattr(exc, "response", None), "status_code", None)
            what = type(exc).__name__ + (f", HTTP {status}" if status else "")
            print(f"lakeqa run: WARNING: alert to {name} failed ({what}); the QA run goes on",
                  file=sys.stderr, flush=True)  # fmt: skip
    if delivered:
        state.update({c.key: now.isoformat() for c in todo})
        atomic.write_text(path, json.dumps(state, indent=2, sort_keys=True))
        print(f"alerts: {len(todo)} condition(s) sent to {', '.join(delivered)}", flush=True)
    return delivered
