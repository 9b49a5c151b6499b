"""The phones' side of bench/push.py's tickets phase: what the phone-ticket pages received, timed
against the actions that caused it. Plain data in, plain data out (no gevent, no server), so the
tests can check it on made-up runs.

A phone's record, as bench/wsclients.mjs keeps it in ticket mode: [phone (client index), arrival
time (s), ticket, step, station, ahead, the view's "at" (ISO)]. A driver's action, as
bench/push.py's Driver records it: {"real_site", "seq", "step", "t0", "t1", "status", "ticket"}.
"""
from __future__ import annotations

from datetime import datetime

CALL_STEPS = {1: "consent", 3: "injection"}  # the driver's call-next steps, by station


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def stats(values: list[float], scale: float = 1000) -> dict:
    """count, p50, p99 and max, in ms (values in seconds)."""
    return {"count": len(values), "p50_ms": round(percentile(values, 50) * scale, 1),
            "p99_ms": round(percentile(values, 99) * scale, 1),
            "max_ms": round(max(values) * scale, 1) if values else float("nan")}


def passes_of(messages: list[list], actions: list[dict], *, slack: float = 0.005) -> list[dict]:
    """The coalesced passes among the phones' messages, in order.

    Every message of one pass carries the same view time (the hub makes all the views of a pass
    at once); a phone's first message (its connect) belongs to no pass, nor does a view made
    while an action on that same visit was in flight (its own change, sent at once). Per pass:
    when its views were made, how many phones it updated, and when its first, median and last
    message arrived."""
    by_phone: dict[int, list[list]] = {}
    for message in sorted(messages, key=lambda m: m[1]):
        by_phone.setdefault(message[0], []).append(message)
    groups: dict[str, list[list]] = {}
    for rows in by_phone.values():
        for message in rows[1:]:
            groups.setdefault(message[6], []).append(message)
    acted: dict[str, list[tuple[float, float]]] = {}
    for action in actions:
        acted.setdefault(action["ticket"], []).append((action["t0"], action["t1"]))
    passes = []
    for at_text, rows in groups.items():
        made = datetime.fromisoformat(at_text).timestamp()
        if all(any(t0 - slack <= made <= t1 + slack for t0, t1 in acted.get(m[2], ())) for m in rows):
            continue  # the phones' own changes
        arrivals = sorted(m[1] for m in rows)
        passes.append({"made": made, "phones": len(rows), "first": arrivals[0],
                       "median": arrivals[len(arrivals) // 2], "last": arrivals[-1]})
    return sorted(passes, key=lambda p: p["made"])


def ticket_latencies(actions: list[dict], messages: list[list], phones: list[dict], recorded: dict[int, float],
                     site: str) -> dict:
    """The phones' delivery, over the actions of the phase with phones.

    * own call: a call-next that called a phone's holder -> that phone's `ticket` with step
      "called" at that station; from the request sent (like the staff push latency) and from
      the API answer's return (negative: the phone had it before the caller's answer);
    * passes (passes_of): phones updated per pass, and from the moment its views were made to
      its first and last phone (the time one pass holds the process);
    * call -> place update: per call at consent of a phone's holder (everyone behind them moves
      up), from the API call returning to the first pass made after the event was recorded
      (`recorded`: seq -> the server's time of the event), at that pass's median and last phone.
    """
    holders = {phone["ticket"]: index for index, phone in enumerate(phones)}
    here = [a for a in actions if a["real_site"] == site and a["status"] < 300 and a["seq"] is not None]
    by_phone: dict[int, list[list]] = {}
    for message in sorted(messages, key=lambda m: m[1]):
        by_phone.setdefault(message[0], []).append(message)
    from_request, from_answer, missing = [], [], 0
    for action in here:
        station = CALL_STEPS.get(action["step"])
        if station is None or action["ticket"] not in holders:
            continue
        got = next((m for m in by_phone.get(holders[action["ticket"]], [])
                    if m[3] == "called" and m[4] == station and m[1] >= action["t0"]), None)
        if got is None:
            missing += 1
            continue
        from_request.append(got[1] - action["t0"])
        from_answer.append(got[1] - action["t1"])
    passes = passes_of(messages, here)
    to_median, to_last = [], []
    for action in here:
        if CALL_STEPS.get(action["step"]) != "consent" or action["ticket"] not in holders:
            continue
        if action["seq"] not in recorded:
            continue
        carried = next((p for p in passes if p["made"] >= recorded[action["seq"]]), None)
        if carried is not None:
            to_median.append(carried["median"] - action["t1"])
            to_last.append(carried["last"] - action["t1"])
    return {
        "messages": len(messages),
        "own_call": {"from_request": stats(from_request), "from_answer": stats(from_answer), "missing": missing},
        "passes": {"count": len(passes),
                   "phones_per_pass_p50": percentile([p["phones"] for p in passes], 50),
                   "phones_per_pass_max": max((p["phones"] for p in passes), default=0),
                   "made_to_first_phone": stats([p["first"] - p["made"] for p in passes]),
                   "made_to_last_phone": stats([p["last"] - p["made"] for p in passes])},
        "call_to_place_update": {"median_phone": stats(to_median), "last_phone": stats(to_last)},
    }
