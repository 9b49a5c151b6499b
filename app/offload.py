"""Work that would hold the server's event loop for more than a few milliseconds (an XLSX
export, a simulation) runs in a native thread of gevent's pool, so one supervisor's export
never stalls the screens: the loop goes on serving while the thread computes.

Only pure computations may go there: no database access and no gevent object (a lock, a
queue, a socket), which belong to the loop's thread. Without gevent (tests, the command
line) the work simply runs in place.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def off_loop(work: Callable[..., T], /, *args, **kwargs) -> T:
    """`work(*args, **kwargs)`, computed off the gevent loop when there is one."""
    from gevent import monkey

    if not monkey.is_module_patched("threading"):
        return work(*args, **kwargs)
    import gevent

    return gevent.get_hub().threadpool.apply(work, args, kwargs)
