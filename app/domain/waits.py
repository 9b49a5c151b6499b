"""Expected waits for the waiting-area screens, from recent service times and open desks.

A service at a queue station runs from the person's arrival at the desk (`started`, or the
call when the desk does not record arrivals) to the outcome (app/domain/analytics.py keeps
them as the events come, over the last WINDOW). The wait of someone joining a queue now is
about `waiting × mean service time / desks open`, where a desk counts as open if it called,
served or finished someone in the window or is busy now. It is an estimate, shown as
"about N min".
"""
from __future__ import annotations

import math
from datetime import timedelta
from typing import TypedDict

WINDOW = timedelta(minutes=30)
MIN_SAMPLES = 3  # fewer services than this in the window: no estimate yet


class ExpectedWait(TypedDict):
    minutes: int | None  # None: too few services seen in the window for an estimate
    desks_open: int


def expected_wait(*, waiting: int, services: int, service_seconds: float, desks_open: int, desks: int) -> ExpectedWait:
    """{"minutes": int | None, "desks_open": int}: `services` services of `service_seconds`
    in all were seen in the window; `desks_open` of the station's `desks` worked in it."""
    open_desks = max(1, min(desks_open or desks, desks))
    minutes: int | None = None
    if services >= MIN_SAMPLES:
        minutes = math.ceil(waiting * (service_seconds / services) / open_desks / 60)
    return {"minutes": minutes, "desks_open": open_desks}
