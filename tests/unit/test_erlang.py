"""The M/M/c mean wait behind the dashboard's "one more desk" estimate."""
from __future__ import annotations

import pytest

from app.domain.analytics import erlang_c_wait, histogram_percentile, percentile


def test_one_server_is_the_mm1_formula():
    # M/M/1: Wq = rho / (mu - lambda); lambda 0.5/min, service 1 min -> 1 minute.
    assert erlang_c_wait(0.5, 1.0, 1) == pytest.approx(1.0)


def test_a_textbook_mmc_value():
    # lambda = 2/min, mean service 1 min, c = 3: P(wait) = 4/9, Wq = (4/9) / (3 - 2) = 0.444 min.
    assert erlang_c_wait(2.0, 1.0, 3) == pytest.approx(4 / 9, rel=1e-9)


def test_more_servers_never_wait_longer_and_an_overloaded_queue_has_no_mean():
    waits = [erlang_c_wait(3.0, 1.0, c) for c in range(4, 9)]
    assert waits == sorted(waits, reverse=True)
    assert erlang_c_wait(3.0, 1.0, 3) is None and erlang_c_wait(4.0, 1.0, 3) is None
    assert erlang_c_wait(0.0, 2.0, 2) == 0.0 and erlang_c_wait(1.0, 0.0, 1) == 0.0


def test_percentiles_by_nearest_rank():
    assert percentile([5, 1, 4, 2, 3], 50) == 3 and percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert percentile([], 90) is None
    assert histogram_percentile([0, 2, 0, 3], 50) == 3 and histogram_percentile([0, 0], 50) is None
