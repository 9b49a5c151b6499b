"""The `siteflow` command line: init, tokens, sites, and a real `siteflow demo` server."""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from tests.support.factories import gen_checkin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SITEFLOW_SITES", str(ROOT / "sites"))
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_init_migrates_and_loads_the_site_folder(env):
    first = run("init")
    assert first.exit_code == 0, first.output
    assert "site demo: created" in first.output
    again = run("init")
    assert "site demo: unchanged" in again.output
    listed = run("sites", "list")
    assert listed.output.startswith("demo")


def test_tokens_create_list_revoke(env):
    run("init")
    created = run("tokens", "create", "--role", "station", "--site", "demo", "--station", "consent", "--name", "desk A")
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert token.startswith("sf_") and len(token) > 40
    listed = run("tokens", "list")
    assert "desk A" in listed.output and token not in listed.output  # values are never shown again
    token_id = listed.output.split()[0]
    assert run("tokens", "revoke", token_id).exit_code == 0
    assert "revoked" in run("tokens", "list").output


def test_tokens_create_refuses_a_station_token_without_a_station(env):
    run("init")
    result = CliRunner().invoke(cli, ["tokens", "create", "--role", "station", "--site", "demo"])
    assert result.exit_code != 0
    assert "station" in result.output


def test_sites_load_names_the_file_and_the_bad_key(env, tmp_path):
    run("init")
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "sites" / "demo.toml").read_text().replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"'))
    result = CliRunner().invoke(cli, ["sites", "load", str(bad)])
    assert result.exit_code != 0
    assert "bad.toml" in result.output and "timezone" in result.output and "Mars/Base" in result.output


def test_sites_load_updates_a_changed_site(env, tmp_path):
    run("init")
    changed = tmp_path / "demo.toml"
    changed.write_text((ROOT / "sites" / "demo.toml").read_text().replace("seats = 60", "seats = 80"))
    assert "site demo: updated" in run("sites", "load", str(changed)).output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"{}")


def _sign_in_on_the_pages(base: str, username: str, password: str) -> None:
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    headers = {"Accept": "text/html"}
    with browser.open(urllib.request.Request(f"{base}/", headers=headers), timeout=10) as anonymous:
        assert anonymous.url.startswith(f"{base}/login")  # redirected to sign in
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', anonymous.read().decode()).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": csrf}).encode()
    with browser.open(urllib.request.Request(f"{base}/login", data=form, headers=headers), timeout=10) as home:
        page = home.read().decode()
    assert home.url == f"{base}/" and f"({username})" in page


def test_demo_serves_with_gevent_and_prints_a_working_admin_token(tmp_path):
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}", SITEFLOW_SITES=str(ROOT / "sites"))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.entry", "demo", "--port", str(port), "--no-bots"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 60
        while "running at" not in output and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        assert f"http://127.0.0.1:{port}" in output, output
        token = re.search(r"\b(sf_[\w-]+)", output).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert json.loads(response.read()) == {"status": "ok"}
        status, body = _post(f"http://127.0.0.1:{port}/api/v1/sites/demo/visits", token, gen_checkin())
        assert status == 201 and body["visit"]["ticket"] == "A001"
        # sign-in is required, and the printed demo sign-ins work
        password = re.search(r"^\s+demo-supervisor\s+(\S+)$", output, re.MULTILINE).group(1)
        _sign_in_on_the_pages(f"http://127.0.0.1:{port}", "demo-supervisor", password)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=10)


def test_report_daily_writes_the_days_report_as_xlsx_csv_and_json(env, monkeypatch):
    from openpyxl import load_workbook

    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(env / "instance"))
    assert run("init").exit_code == 0
    token = run("tokens", "create", "--role", "admin", "--name", "r").output.strip().splitlines()[-1]
    from app import create_app

    client = create_app().test_client()
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        assert client.post("/api/v1/sites/demo/visits", json=gen_checkin(), headers=auth).status_code == 201
    today = client.get("/api/v1/sites/demo", headers=auth).get_json()["today"]
    out = env / "day.xlsx"
    done = run("report", "daily", "--site", "demo", "--date", today, "--format", "xlsx", "-o", str(out))
    assert done.exit_code == 0, done.output
    summary = {row[0]: row[1] for row in load_workbook(out)["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["checked_in"] == 3 and summary["doses"] == 0
    span = f"{(date.fromisoformat(today) - timedelta(days=2)).isoformat()}..{today}"
    ranged = run("report", "daily", "--site", "demo", "--date", span, "--format", "json", "-o", str(env / "r.json"))
    assert ranged.exit_code == 0 and "3 day(s)" in ranged.output
    days = json.loads((env / "r.json").read_text())
    assert [day["totals"]["checked_in"] for day in days] == [0, 0, 3]
    bad = CliRunner().invoke(cli, ["report", "daily", "--site", "demo", "--date", "yesterday", "-o", str(out)])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    unknown = CliRunner().invoke(cli, ["report", "daily", "--site", "nowhere", "--date", today, "-o", str(out)])
    assert unknown.exit_code != 0 and "nowhere" in unknown.output


def test_simulate_prints_the_table_and_writes_json_and_plots(tmp_path):
    scenario = ROOT / "sites" / "scenarios" / "community-2000.toml"
    done = run("simulate", str(scenario), "--replications", "3", "--processes", "1",
               "--json", str(tmp_path / "out.json"), "--plot", str(tmp_path / "out.png"))
    assert done.exit_code == 0, done.output
    assert "3 replications" in done.output and "consent" in done.output and "± " in done.output
    figures = json.loads((tmp_path / "out.json").read_text())
    assert figures["replications"] == 3 and len(figures["per_replication"]) == 3
    assert figures["served"]["mean"] > 1000
    assert [row["seed"] for row in figures["per_replication"]] == [1, 2, 3]
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_names_what_is_wrong_in_a_scenario(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('closes = 07:00:00\n[[stations]]\nname = "x"\nservice = { kind = "gamma", mean = 1 }\n')
    done = CliRunner().invoke(cli, ["simulate", str(bad)])
    assert done.exit_code == 1
    assert "stations.0.service" in done.output and "arrivals" in done.output


def test_simulate_from_a_real_day_of_a_site(env, monkeypatch):
    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(env / "instance"))
    assert run("init").exit_code == 0
    from app import create_app
    from app.domain.permissions import Principal
    from app.sim.day import DayPlan, FlowActions, run_day

    services = create_app().extensions["siteflow"]
    run_day(FlowActions(services, "demo", Principal(name="bot", role="admin")), DayPlan(people=40, hours=1, seed=2),
            advance=lambda delta: None)
    done = run("simulate", "--from-site", "demo", "--replications", "2", "--processes", "1",
               "--json", str(env / "fit.json"))
    assert done.exit_code == 0, done.output
    assert "demo" in done.output and "consent" in done.output
    figures = json.loads((env / "fit.json").read_text())
    assert figures["arrived"]["mean"] > 0
    neither = CliRunner().invoke(cli, ["simulate"])
    assert neither.exit_code == 2 and "--from-site" in neither.output


def test_demo_bots_keep_the_site_moving_and_leave_a_desk_to_people(tmp_path):
    from app.sim.bots import DEMO_COVER_AFTER_MINUTES

    port = _free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}", SITEFLOW_SITES=str(ROOT / "sites"),
               SITEFLOW_INSTANCE_PATH=str(tmp_path / "instance"))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.entry", "demo", "--port", str(port), "--speed", "60"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 60
        while "running at" not in output and time.monotonic() < deadline:
            output += process.stdout.readline()
        token = re.search(r"\b(sf_[\w-]+)", output).group(1)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/sites/demo/snapshot",
                                         headers={"Authorization": f"Bearer {token}"})
        seen = {"checked_in": False, "called": False, "observing": False}
        deadline = time.monotonic() + 45
        first = None
        while not all(seen.values()) and time.monotonic() < deadline:
            with urllib.request.urlopen(request, timeout=10) as response:
                snapshot = json.loads(response.read())
            stations = snapshot["stations"]
            seen["checked_in"] |= snapshot["seq"] > 0
            seen["called"] |= bool(snapshot["calling"]) or stations["consent"]["serving"] > 0
            seen["observing"] |= snapshot["observation"]["count"] > 0
            # The desks left to people stay free, until nobody has used them for a while (a bot covers them then).
            first = first or datetime.fromisoformat(snapshot["at"])
            if datetime.fromisoformat(snapshot["at"]) - first < timedelta(minutes=DEMO_COVER_AFTER_MINUTES - 5):
                assert stations["consent"]["desks"]["B"]["state"] == "idle"
                assert stations["injection"]["desks"]["6"]["state"] == "idle"
            time.sleep(0.5)
        assert all(seen.values()), seen
        assert "60 times faster" in output and re.search(r"Bots keep the site moving: \d+ people an hour", output)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=10)


def _qr_rows(output: str) -> list[list[bool]]:
    """The modules (True: dark) of the QR code printed in half-height blocks (light drawn, border
    included): each character is two modules, one above the other."""
    halves = {"█": (False, False), "▀": (False, True), "▄": (True, False), " ": (True, True)}
    lines = [line for line in output.splitlines() if line.strip() and set(line) <= set(halves)]
    rows: list[list[bool]] = []
    for line in lines:
        pairs = [halves[char] for char in line]
        rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    return rows[:len(rows[0])] if rows else []  # square: the last line's lower half is below the code


def test_demo_on_the_lan_prints_its_lan_address_and_a_qr_code_to_pair_tvs(env, monkeypatch):
    import segno

    from app.cli import serving

    monkeypatch.setenv("SITEFLOW_INSTANCE_PATH", str(env / "instance"))
    monkeypatch.setattr(serving, "lan_address", lambda: "192.168.31.7")
    listening = []
    monkeypatch.setattr(serving, "_serve", lambda app, host, port, on_ready=None: listening.append((host, port)))

    lan = run("demo", "--lan", "--port", "5123", "--no-bots")
    assert lan.exit_code == 0, lan.output
    assert listening == [("0.0.0.0", 5123)]
    assert "LAN address: 192.168.31.7" in lan.output
    links = re.findall(r"http://[^\s/]+", lan.output)
    assert len(links) > 10 and set(links) == {"http://192.168.31.7:5123"}
    printed = _qr_rows(lan.output)
    border = 4
    code = [row[border:-border] for row in printed[border:-border]]
    expected = segno.make("http://192.168.31.7:5123/pair", error="m")
    assert code == [[bool(module) for module in row] for row in expected.matrix]
    assert "--lan" not in lan.output

    local = run("demo", "--port", "5124", "--no-bots")
    assert local.exit_code == 0, local.output
    assert listening[-1] == ("127.0.0.1", 5124)
    assert set(re.findall(r"http://[^\s/]+", local.output)) == {"http://127.0.0.1:5124"}
    assert "siteflow demo --lan" in local.output and not _qr_rows(local.output)


def test_the_lan_address_is_found_without_the_network(monkeypatch):
    import ipaddress

    from app.cli import serving

    found = serving.lan_address()  # whatever this machine has: an outward IPv4 address, else loopback
    assert found == "127.0.0.1" or not ipaddress.IPv4Address(found).is_loopback

    class NoRoute(socket.socket):
        def connect(self, address):
            raise OSError("Network is unreachable")

    monkeypatch.setattr(serving.socket, "socket", NoRoute)
    monkeypatch.setattr(serving.socket, "gethostbyname_ex", lambda name: (name, [], ["127.0.1.1", "10.20.30.40"]))
    assert serving.lan_address() == "10.20.30.40"
    monkeypatch.setattr(serving.socket, "gethostbyname_ex", lambda name: (name, [], ["127.0.1.1"]))
    assert serving.lan_address() == "127.0.0.1"
