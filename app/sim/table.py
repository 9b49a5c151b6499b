"""The simulation's figures as a table for the terminal."""
from __future__ import annotations

from .scenario import Scenario


def _ci(entry: dict, digits: int = 1, scale: float = 1.0) -> str:
    if entry["mean"] is None:
        return "—"
    text = f"{entry['mean'] * scale:.{digits}f}"
    if entry["ci95"] is not None:
        text += f" ± {entry['ci95'] * scale:.{digits}f}"
    return text


def _clock(scenario: Scenario, minutes: float | None) -> str:
    if minutes is None:
        return "—"
    total = scenario.opens.hour * 60 + scenario.opens.minute + minutes
    return f"{int(total // 60):02d}:{int(total % 60):02d}"


def table(scenario: Scenario, summary: dict) -> str:
    tis = summary["time_in_system"]
    lines = [
        f"{scenario.name} — {summary['replications']} replications (mean ± 95 % CI)",
        "",
        f"  people arrived           {_ci(summary['arrived'])}",
        f"  served (left vaccinated) {_ci(summary['served'])}",
        f"  deferred                 {_ci(summary['deferred'])}",
        f"  time in system, min      mean {_ci(tis['mean'])}   "
        + "  ".join(f"p{q} {tis[f'p{q}']:.0f}" for q in (5, 25, 50, 75, 90, 95) if tis[f"p{q}"] is not None),
        f"  site cleared at          {_clock(scenario, summary['cleared_at']['mean'])}",
        "",
        f"  {'station':<14}{'mean wait':>16}{'p95 wait':>16}{'utilisation %':>18}{'max queue':>14}",
    ]
    for name, entry in summary["stations"].items():
        lines.append(f"  {name:<14}{_ci(entry['mean_wait']):>16}{_ci(entry['p95_wait']):>16}"
                     f"{_ci(entry['utilisation'], 1, 100):>18}{_ci(entry['max_queue'], 0):>14}")
    obs = summary["observation"]
    if scenario.observation:
        lines += ["", f"  observation seats ({scenario.observation.seats}): time-average {_ci(obs['time_average'])}, "
                      f"p95 {_ci(obs['p95'], 0)}, p99 {_ci(obs['p99'], 0)}, peak {_ci(obs['peak'], 0)}"]
    if not scenario.vials.single_dose:
        lines += ["", *vials(scenario, summary)]
    if summary.get("by_hour"):
        lines += ["", *hourly(summary)]
    return "\n".join(lines)


def policy(scenario: Scenario, minutes: float) -> str:
    """A closing policy in words: "no new vial after 17:30 (30 min before closing)"."""
    if not minutes:
        return "vials opened as needed until the site clears"
    return f"no new vial after {_clock(scenario, scenario.open_minutes - minutes)} ({minutes:g} min before closing)"


def vials(scenario: Scenario, summary: dict) -> list[str]:
    """The vial figures (means ± 95 % CI of the replications)."""
    figures = summary["vials"]
    rule = scenario.vials
    return [
        f"  vials: {rule.doses_per_vial} doses, usable {rule.open_life_minutes:g} min once open; "
        f"{policy(scenario, rule.stop_opening_minutes)}",
        f"  vials opened             {_ci(figures['vials_opened'])}",
        f"  doses given              {_ci(figures['doses_given'])}",
        f"  doses wasted             {_ci(figures['doses_wasted'])}   (expired open vial {_ci(figures['wasted_expired'])}; "
        f"left at closing {_ci(figures['wasted_at_closing'])})",
        f"  wastage rate, %          {_ci(figures['wastage_rate'], 1, 100)}   (wasted / (given + wasted))",
        f"  turned away by the policy {_ci(figures['turned_away'])}",
    ]


def hourly(summary: dict) -> list[str]:
    """Hour by hour (means of the replications): arrivals, and per station the people waiting at
    the hour's start (":00"), the longest queue in the hour ("max") and the mean wait in minutes
    of those who joined the queue in that hour ("wait")."""
    rows = summary["by_hour"]
    names = list(rows[0]["stations"])
    width = max(17, *(len(name) + 2 for name in names))
    lines = ["  by hour: people waiting at :00 / longest queue in the hour / mean wait (min) of those queued in it",
             f"  {'hour':<7}{'arrived':>8}  " + "".join(f"{name:>{width}}" for name in names),
             f"  {'':<7}{'':>8}  " + "".join(f"{':00   max  wait':>{width}}" for _ in names)]
    for row in rows:
        cells = []
        for name in names:
            entry = row["stations"][name]
            wait = "—" if entry["mean_wait"] is None else f"{entry['mean_wait']:.1f}"
            cells.append(f"{entry['queue_at_start']:>{width - 12}.0f}{entry['max_queue']:>6.0f}{wait:>6}")
        lines.append(f"  {row['hour']:02d}:00  {row['arrived']:>8.0f}  " + "".join(cells))
    return lines
