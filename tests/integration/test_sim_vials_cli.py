"""`siteflow simulate` and `siteflow plan` with multi-dose vials: the vial figures, the table of
closing policies (--vial-policies, --max-turned-away), JSON, and the options checked."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from app.cli import cli

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name = "small site"
opens = 08:00:00
closes = 12:00:00
[[stations]]
name = "consent"
servers = 2
service = { kind = "exponential", mean = 2.0 }
[[stations]]
name = "injection"
servers = 2
service = { kind = "fixed", value = 1.0 }
needs_observation_seat = true
[observation]
seats = 40
duration = { kind = "fixed", value = 15 }
[[arrivals]]
kind = "poisson"
rate_per_hour = 45
"""


def _scenario(tmp_path: Path, vials: str = "[vials]\ndoses_per_vial = 10\nopen_life_minutes = 15\n") -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL + vials, encoding="utf-8")
    return path


def test_simulate_prints_the_vial_figures_for_multi_dose_vials_and_writes_them_as_json(tmp_path):
    done = CliRunner().invoke(cli, ["simulate", str(_scenario(tmp_path)), "-n", "3", "--processes", "1",
                                    "--json", str(tmp_path / "out.json")], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert "vials: 10 doses, usable 15 min once open; vials opened as needed until the site clears" in done.output
    for label in ("vials opened", "doses given", "doses wasted", "expired open vial", "left at closing",
                  "wastage rate, %", "turned away by the policy"):
        assert label in done.output, label
    figures = json.loads((tmp_path / "out.json").read_text())
    vials = figures["vials"]
    assert vials["doses_per_vial"] == 10 and vials["wasted_expired"]["mean"] > 0  # 15 min is short at this pace
    for row in figures["per_replication"]:
        one = row["vials"]
        assert one["doses_given"] + one["doses_wasted"] == one["vials_opened"] * 10
        assert one["doses_wasted"] == one["wasted_expired"] + one["wasted_at_closing"]


def test_simulate_says_nothing_of_vials_for_single_dose_ones(tmp_path):
    done = CliRunner().invoke(cli, ["simulate", str(_scenario(tmp_path, "")), "-n", "2", "--processes", "1"],
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert "vials:" not in done.output and "wasted" not in done.output


def test_plan_prints_the_closing_policies_table_and_recommends_one(tmp_path):
    scenario = _scenario(tmp_path)
    done = CliRunner().invoke(cli, ["plan", str(scenario), "-n", "3", "--vial-policies", "0,30,15",
                                    "--max-turned-away", "1000", "--json", str(tmp_path / "plan.json")],
                              catch_exceptions=False)
    assert done.exit_code in (0, 1), done.output
    text = done.output
    assert "Vials: 10 doses, usable 15 min once open; each closing policy simulated 3 times" in text
    header = next(line for line in text.splitlines() if "stop opening" in line)
    for column in ("vials opened", "doses given", "wasted", "expired", "at closing", "wastage %", "turned away"):
        assert column in header, column
    rows = [line.split()[0] for line in text.splitlines() if line.strip().startswith(("0 (no policy)", "15 min",
                                                                                       "30 min"))]
    assert rows == ["0", "15", "30"]  # in order, whatever the order given
    assert "Recommended: " in text
    plan = json.loads((tmp_path / "plan.json").read_text())
    policies = plan["vial_policies"]
    assert [row["stop_opening_minutes"] for row in policies] == [0, 15, 30]
    assert policies[0]["turned_away"]["mean"] == 0
    least = min(policies, key=lambda row: (round(row["doses_wasted"]["mean"], 6), row["turned_away"]["mean"],
                                           row["stop_opening_minutes"]))
    assert plan["recommended_stop_opening_minutes"] == least["stop_opening_minutes"]
    assert plan["servers"]["injection"] >= 1 and plan["max_turned_away"] == 1000


def test_plan_with_multi_dose_vials_compares_the_default_policies(tmp_path):
    done = CliRunner().invoke(cli, ["plan", str(_scenario(tmp_path)), "-n", "2"], catch_exceptions=False)
    assert done.exit_code in (0, 1), done.output
    for label in ("0 (no policy)", "15 min", "30 min", "45 min", "60 min"):
        assert label in done.output, label


def test_the_vial_options_are_checked(tmp_path):
    single = CliRunner().invoke(cli, ["plan", str(_scenario(tmp_path, "")), "--vial-policies", "0,30"])
    assert single.exit_code == 2 and "single-dose" in single.output
    multi = _scenario(tmp_path)
    words = CliRunner().invoke(cli, ["plan", str(multi), "--vial-policies", "0,half an hour"])
    assert words.exit_code == 2 and "--vial-policies" in words.output and "commas" in words.output
    long = CliRunner().invoke(cli, ["plan", str(multi), "--vial-policies", "0,240"])
    assert long.exit_code == 2 and "less than the opening hours (240 minutes)" in long.output
    bad = CliRunner().invoke(cli, ["simulate", str(_scenario(tmp_path, "[vials]\nstop_opening_minutes = 30\n"))])
    assert bad.exit_code == 1 and "stop_opening_minutes needs doses_per_vial > 1" in bad.output
