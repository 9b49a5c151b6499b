"""The daily report of a site and the city's ranking, from a folded day (analytics.DayAnalytics).

Pure: the same model and moment give the same report. Personal data appears only in the
AEFI list and the list of people not accounted for, and only at the `full` level.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from .analytics import DayAnalytics, histogram_percentile
from .identity import mask_name


def daily_report(model: DayAnalytics, *, now: datetime, level: str) -> dict[str, Any]:
    view = model.view(now)
    stations = {}
    for name, state in model.stations.items():
        waits = sum(state.day_waits)
        served = sum(state.served.values())
        busy = sum(state.service_seconds.values())
        open_seconds = sum((state.desk_last[desk] - state.desk_first[desk]).total_seconds()
                           for desk in state.desk_first)
        stations[name] = {
            "called": waits,
            "mean_wait_minutes": round(state.day_wait_seconds / waits / 60, 1) if waits else None,
            "p90_wait_minutes": histogram_percentile(state.day_waits, 90),
            "served": served,
            "mean_service_minutes": round(busy / served / 60, 1) if served else None,
            "utilisation": round(min(1.0, busy / open_seconds), 3) if open_seconds else None,
            "desks_used": len(state.desk_first),
        }
    hours = sorted(set(model.checked_in_by_hour) | set(model.doses_by_hour) | set(model.released_by_hour))
    by_hour = [{"hour": hour, "checked_in": model.checked_in_by_hour[hour], "doses": model.doses_by_hour[hour],
                "released": model.released_by_hour[hour]} for hour in hours]
    people = [model.visits[visit_id] for visit_id in sorted(model.open, key=lambda v: model.visits[v].checked_in_at)]
    outcomes = view["outcomes"]
    accounted = sum(outcomes["vaccinated_by_dose"].values()) + sum(outcomes["deferred_by_reason"].values()) + sum(
        outcomes[key] for key in ("refused", "turned_away", "no_show", "left", "left_vaccinated", "transferred"))
    return {
        "site": {"id": model.site.id, "name": model.site.name, "name_zh": model.site.name_zh},
        "date": model.day.isoformat(),
        "generated_at": now.astimezone(model.site.tz).isoformat(),  # site time, with its offset
        "timezone": model.site.timezone,
        "totals": {
            "checked_in": len(model.visits),
            "doses": view["target"]["doses"],
            "daily_target": model.site.daily_target,
            "percent_of_target": view["target"]["percent"],
            "time_in_system_median_minutes": view["time_in_system"]["median_minutes"],
            "time_in_system_p90_minutes": view["time_in_system"]["p90_minutes"],
        },
        "outcomes": outcomes,
        "by_hour": by_hour,
        "by_station": stations,
        "by_dose": {str(dose): count for dose, count in sorted(model.doses_by_dose.items()) if count},
        "by_age_band": {band: count for band, count in sorted(model.doses_by_age.items()) if count},
        "by_product_lot": view["vaccine"]["doses"],
        "vaccinators": view["vaccinators"],
        "aefi": [_aefi(model, row, level) for row in view["aefi"]],
        "closed_loop": {
            "checked_in": len(model.visits),
            "accounted_for": accounted,
            "not_closed": [{"ticket": visit.ticket, "state": visit.state, "station": visit.station,
                            "checked_in_at": visit.checked_in_at.astimezone(model.site.tz).isoformat(),
                            **({"name": visit.person.name} if level == "full" else {})} for visit in people],
            "still_open": len(people),
            # Every person checked in is either closed (counted in an outcome) or listed here.
            "consistent": accounted + len(people) == len(model.visits),
            "complete": accounted == len(model.visits),
        },
    }


def _aefi(model: DayAnalytics, row: dict[str, Any], level: str) -> dict[str, Any]:
    person = model.visits[row["visit_id"]].person
    shown = dict(row)
    shown["name"] = person.name if level == "full" else mask_name(person.name)
    return shown


def city_ranking(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sites ranked by doses against their targets (排名通报), best first; ties by doses."""
    ranked = sorted(rows, key=lambda row: (-(row["percent_of_target"] or 0), -row["doses"], row["site"]))
    return [dict(row, rank=place) for place, row in enumerate(ranked, start=1)]


# The columns of the stock sheet's lines in the report, in order (app/domain/stock.py: sheet_row).
STOCK_COLUMNS = ("product", "lot", "expires_on", "doses_per_vial", "opening", "received", "moved_out", "given",
                 "wasted", "left", "counted_closing", "difference", "balanced", "explained", "explanation")
STOCK_TOTALS = ("opening", "received", "moved_out", "given", "wasted", "left", "counted_closing", "difference")


def stock_section(sheet: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """The day's stock sheet (app/flow/stock.py: day_sheet) as the daily report shows it: a line
    per lot, their total, the wastage by lot and reason code, and the closing (times in site time).
    A lot not counted at closing has `counted_closing` None (and the total counts the others)."""
    lots = []
    for row in sheet["lots"]:
        line = {key: row[key] for key in STOCK_COLUMNS if key in row}
        line["moved_in"] = row["moved_in"]
        line["counted_closing"] = row["counted"].get("closing")
        line["wasted_by_reason"] = {reason: doses for reason, doses in row["wasted_by_reason"].items() if doses}
        lots.append(line)
    total: dict[str, Any] = {key: sum(line[key] or 0 for line in lots) for key in STOCK_TOTALS}
    total["moved_in"] = sum(line["moved_in"] for line in lots)
    total["balanced"] = all(line["balanced"] for line in lots)
    total["explained"] = all(line["explained"] for line in lots)
    wastage = [{"product": line["product"], "lot": line["lot"], "reason": reason, "doses": doses}
               for line in lots for reason, doses in line["wasted_by_reason"].items()]
    closed = sheet["closed"]
    return {
        "as_of": datetime.fromisoformat(sheet["as_of"]).astimezone(tz).isoformat(),
        "lots": lots,
        "total": total,
        "wastage": wastage,
        "wasted_by_reason": {reason: sum(row["doses"] for row in wastage if row["reason"] == reason)
                             for reason in dict.fromkeys(row["reason"] for row in wastage)},
        "unexplained": list(sheet["unexplained"]),
        "closed": None if closed is None else {
            "at": datetime.fromisoformat(closed["at"]).astimezone(tz).isoformat(), "by": closed["actor"]},
    }
