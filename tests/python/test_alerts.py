"""Alerts (lakeqa.alerts) against a real HTTP server this test starts on localhost: a Slack-compatible
webhook and an apprise json:// channel, the rate limit kept between runs, and channels that time out or fail
without failing the QA run."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lakeqa import alerts, cli
from lakeqa.generate import generate_lake

pytestmark = pytest.mark.e2e

# the run's own steps are not what this tests: the verdicts come from one build, later runs skip to alerts
ONLY_VERDICTS = ["--skip", "build", "--skip", "ge", "--skip", "docs", "--skip", "exports", "--skip", "manifest",
                 "--skip", "freshness"]  # fmt: skip


class Hooks(BaseHTTPRequestHandler):
    """POST /slow answers after 3 s, /fail with 500, anything else 200; every request body is recorded."""

    received: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802 - the name http.server calls
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        Hooks.received.append((self.path, body))
        if self.path.startswith("/slow"):
            time.sleep(3)
        self.send_response(500 if self.path.startswith("/fail") else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Hooks.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def faulted_run(run_env, monkeypatch):
    project = run_env
    monkeypatch.delenv(alerts.WEBHOOK_ENV, raising=False)
    monkeypatch.delenv(alerts.APPRISE_ENV, raising=False)
    generate_lake(project.lake, date="2024-08-09", trades_per_day=30_000, faults="all", progress=False)
    # the verdicts, with no channel configured: nothing is sent and no state is written
    assert cli.main(["run", "--day", "2024-08-09", "--skip", "docs", "--skip", "ge", "--fail-on", "never"]) == 0
    assert not alerts.state_path(project.paths.output_root).exists()
    return project


def test_a_fail_goes_to_the_webhook_and_apprise_once_per_hour(faulted_run, server, monkeypatch, capsys):
    project = faulted_run
    fails = [s for (s,) in project.query("select symbol from fusion where verdict = 'FAIL' order by 1")]
    assert "BNBUSDT" in fails
    monkeypatch.setenv(alerts.WEBHOOK_ENV, f"http://{server}/hooks/T000/SECRET-TOKEN")
    monkeypatch.setenv(alerts.APPRISE_ENV, f"json://{server}/apprise")
    capsys.readouterr()
    assert cli.main(["run", "--day", "2024-08-09", *ONLY_VERDICTS]) == 4, "alerts must not change the exit code"
    out = capsys.readouterr().out
    assert f"alerts: {len(fails)} condition(s) sent" in out and "SECRET-TOKEN" not in out
    webhook = [body for path, body in Hooks.received if path.startswith("/hooks/")]
    apprise_posts = [body for path, body in Hooks.received if path.startswith("/apprise")]
    assert len(webhook) == 1 and len(apprise_posts) == 1, Hooks.received
    text = webhook[0]["text"]  # Slack's incoming-webhook format
    report = project.paths.output_root / "reports" / "qa" / "2024-08-09_qa_report.html"
    for symbol in fails:
        line = next(line for line in text.splitlines() if f"FAIL {symbol} 2024-08-09 (daily): " in line)
        assert f"Report: {report}" in line
    bnb_reason = project.query("select reason from fusion where symbol = 'BNBUSDT'")[0][0]
    assert bnb_reason in text and "PASS" not in text.split("\n", 1)[1]
    assert "FAIL BNBUSDT" in apprise_posts[0]["message"]

    # the same conditions within the hour: nothing sent again
    Hooks.received.clear()
    assert cli.main(["run", "--day", "2024-08-09", *ONLY_VERDICTS]) == 4
    assert Hooks.received == []
    # an hour later (the state says so): sent again
    state_file = alerts.state_path(project.paths.output_root)
    state = json.loads(state_file.read_text())
    assert set(state) == {f"daily:{s}:FAIL" for s in fails}
    earlier = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=61)).isoformat()
    state_file.write_text(json.dumps({key: earlier for key in state}))
    assert cli.main(["run", "--day", "2024-08-09", *ONLY_VERDICTS]) == 4
    assert len([p for p, _ in Hooks.received if p.startswith("/hooks/")]) == 1

    # REVIEW too when alerts.on says so (only the new conditions: the FAILs were just sent)
    Hooks.received.clear()
    reviews = [s for (s,) in project.query("select symbol from fusion where verdict = 'REVIEW' order by 1")]
    assert reviews
    assert cli.main(["run", "--day", "2024-08-09", *ONLY_VERDICTS, "--vars", '{"alerts.on": "REVIEW"}']) == 4
    text = next(body["text"] for path, body in Hooks.received if path.startswith("/hooks/"))
    assert all(f"REVIEW {s} 2024-08-09" in text for s in reviews) and "FAIL " not in text


def test_a_channel_that_times_out_or_fails_never_fails_the_run(faulted_run, server, monkeypatch, capsys):
    project = faulted_run
    monkeypatch.setenv(alerts.WEBHOOK_ENV, f"http://{server}/slow/SECRET-TOKEN")
    monkeypatch.setenv(alerts.APPRISE_ENV, f"json://{server}/fail/SECRET-TOKEN")
    capsys.readouterr()
    started = time.monotonic()
    code = cli.main(["run", "--day", "2024-08-09", *ONLY_VERDICTS, "--fail-on", "never",
                     "--vars", '{"alerts.timeout_s": 0.5}'])  # fmt: skip
    assert code == 0
    assert time.monotonic() - started < 30
    captured = capsys.readouterr()
    assert "alert to http://127.0.0.1 failed (" in captured.err and "Timeout" in captured.err, captured.err
    assert "alert to json://127.0.0.1 failed" in captured.err, captured.err
    assert "SECRET-TOKEN" not in captured.err + captured.out
    # nothing was delivered, so nothing is marked sent: the next run tries again
    assert not alerts.state_path(project.paths.output_root).exists()
    # a bad alerts.on stops a run before anything is replaced
    assert cli.main(["run", "--day", "2024-08-09", *ONLY_VERDICTS, "--vars", '{"alerts.on": "PASS"}']) == 1
    assert "alerts.on must be FAIL or REVIEW" in capsys.readouterr().err
