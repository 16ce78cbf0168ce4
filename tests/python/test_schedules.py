"""The shipped schedules (deploy/): systemd units that systemd itself accepts, timers and a crontab that start
the runs when the schedule settings say, and command lines that `lakeqa run` accepts."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from lakeqa import cli
from lakeqa.settings import PROJECT_DIR, project_defaults

DEPLOY = PROJECT_DIR / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("lakeqa-*.*"))
INSTALL_DIR = "/opt/lakeqa"  # where the shipped files expect the checkout; the tests put this one there


def unit_values(path: Path) -> dict[str, str]:
    """Key=Value lines of a unit file (comments and section headers left out)."""
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def schedule() -> tuple[str, int]:
    defaults = project_defaults()
    return str(defaults["schedule.daily_run_utc"]), int(defaults["schedule.hourly_run_minute"])


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is absent (Debian's systemd package; .ci/run installs it)")
    return tool


def lakeqa_arguments(command: str) -> list[str]:
    """The arguments after `lakeqa` in a shell command line, checked by lakeqa's own parser."""
    words = shlex.split(command.split("&&")[-1])
    assert Path(words[0]).name == "lakeqa", command
    args = cli.build_parser().parse_args(words[1:])  # exits (fails the test) on an argument lakeqa refuses
    assert args.command == "run", command
    return words[1:]


def test_the_units_are_what_systemd_accepts(tmp_path):
    tool = systemd_analyze()
    assert {p.name for p in UNITS} == {"lakeqa-daily.service", "lakeqa-daily.timer",
                                       "lakeqa-hourly.service", "lakeqa-hourly.timer"}  # fmt: skip
    for unit in UNITS:
        # systemd checks that ExecStart's program exists: point the units at this checkout
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALL_DIR, str(PROJECT_DIR)))
    if not (PROJECT_DIR / ".venv" / "bin" / "lakeqa").exists():
        pytest.skip("the project's .venv/bin/lakeqa is absent (make setup creates it)")
    done = subprocess.run([tool, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "lakeqa-" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


def test_the_timers_start_the_runs_at_the_schedule_settings():
    tool = systemd_analyze()
    daily, minute = schedule()
    expected = {"lakeqa-daily.timer": f"*-*-* {daily}:00 UTC", "lakeqa-hourly.timer": f"*-*-* *:{minute:02d}:00 UTC"}
    for name, calendar in expected.items():
        values = unit_values(DEPLOY / "systemd" / name)
        assert values["OnCalendar"] == calendar, name
        assert values["Unit"] == name.replace(".timer", ".service")
        done = subprocess.run([tool, "calendar", calendar], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and f"Normalized form: {calendar}" in done.stdout, done.stdout + done.stderr
    assert unit_values(DEPLOY / "systemd" / "lakeqa-daily.timer")["Persistent"] == "true"


def test_every_shipped_command_is_a_run_lakeqa_accepts_and_cron_runs_what_systemd_runs():
    daily, minute = schedule()
    hour, daily_minute = (int(part) for part in daily.split(":"))
    services = {mode: lakeqa_arguments(unit_values(DEPLOY / "systemd" / f"lakeqa-{mode}.service")["ExecStart"])
                for mode in ("daily", "hourly")}  # fmt: skip
    assert services["daily"][:3] == ["run", "--mode", "daily"] and "--day" not in services["daily"]
    assert services["hourly"][:3] == ["run", "--mode", "hourly"]
    cron_lines = [line.split(None, 6) for line in (DEPLOY / "cron" / "lakeqa.cron").read_text().splitlines()
                  if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]  # fmt: skip
    by_mode = {lakeqa_arguments(fields[6])[2]: fields for fields in cron_lines}
    assert set(by_mode) == {"daily", "hourly"}
    assert by_mode["daily"][:5] == [str(daily_minute), str(hour), "*", "*", "*"]
    assert by_mode["hourly"][:5] == [str(minute), "*", "*", "*", "*"]
    for mode, fields in by_mode.items():
        assert lakeqa_arguments(fields[6]) == services[mode], f"cron's {mode} run differs from systemd's"
    assert "CRON_TZ=UTC" in (DEPLOY / "cron" / "lakeqa.cron").read_text()
