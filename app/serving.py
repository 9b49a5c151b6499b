"""What a server process does once before it accepts connections (`siteflow serve`, app.wsgi)."""
from __future__ import annotations

import gc

from flask import Flask


def prepare_to_serve(app: Flask) -> None:
    """Build today's figures of every site (a busy day takes seconds to read, which would
    otherwise hold up the first client to ask), then take everything made so far (the
    imported code and the figures, ~200,000 objects) out of the garbage collector's full
    collections: they live as long as the process, and scanning them again on every full
    collection cost pauses of ~150 ms under load (docs/PERFORMANCE.md)."""
    app.extensions["siteflow"].figures.warm_up()
    gc.collect()
    gc.freeze()
