"""Heavy pure work (an XLSX export, a simulation) runs off the gevent loop: the loop keeps
serving while it computes. Checked in a gevent-patched child process, by whether a greenlet
got to run during the work (not by timing it)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

CHILD = r"""
from gevent import monkey
monkey.patch_all()
import json, gevent
from app.offload import off_loop

ticks = []
def ticker():
    while True:
        ticks.append(1)
        gevent.sleep(0)

def busy():
    # Pure CPU work, like building a large XLSX: about a tenth of a second.
    total = 0
    for n in range(2_000_000):
        total += n
    return total

gevent.spawn(ticker)
gevent.sleep(0.01)
answer = {}
start = len(ticks); in_place = busy(); answer["in_place"] = len(ticks) - start
start = len(ticks); off = off_loop(busy); answer["off_loop"] = len(ticks) - start
assert in_place == off  # the same answer either way
print(json.dumps(answer))
"""


def test_heavy_work_off_the_loop_lets_other_greenlets_run():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ticks = json.loads(done.stdout.strip().splitlines()[-1])
    assert ticks["in_place"] == 0  # the loop was held for the whole computation
    assert ticks["off_loop"] > 0  # the loop went on while a native thread computed


def test_without_gevent_the_work_runs_in_place():
    from app.offload import off_loop

    assert off_loop(sum, [1, 2, 3]) == 6
