"""Erlang C: the slots that keep a job's chance of waiting past the target small."""

from __future__ import annotations

import math

import pytest
from policy_snapshots import spec

from sluice_scaling.policy.queueing import erlang_b, slots_for, wait_beyond
from sluice_scaling.policy.terms import arrival, tolerance


def test_erlang_b_matches_the_closed_form() -> None:
    a, n = 3.0, 5
    closed = (a**n / math.factorial(n)) / sum(a**k / math.factorial(k) for k in range(n + 1))
    assert erlang_b(n, a) == pytest.approx(closed)


def test_one_slot_waits_as_a_single_server_queue() -> None:
    # M/M/1 at load 0.5: P(wait > t) = rho * exp(-(mu - lambda) t), here t = S.
    assert wait_beyond(1, 0.5, 1.0) == pytest.approx(0.5 * math.exp(-0.5))
    assert wait_beyond(2, 2.0, 1.0) == 1.0  # no spare slot: the queue grows without end


@pytest.mark.parametrize(
    ("load", "t_over_s", "most"),
    [
        pytest.param(40.0, 15.0, 42, id="short-jobs-long-target-run-95pct-busy"),
        pytest.param(18.0, 30 / 90, 27, id="long-jobs-need-spare-slots"),
    ],
)
def test_slots_for_the_target(load: float, t_over_s: float, most: int) -> None:
    n = slots_for(load, t_over_s, 0.02)
    assert load < n <= most
    assert wait_beyond(n, load, t_over_s) <= 0.02 < wait_beyond(n - 1, load, t_over_s)


def test_no_load_no_slots_and_huge_loads_stay_bounded() -> None:
    assert slots_for(0.0, 15.0, 0.02) == 0
    assert slots_for(1e6, 15.0, 0.02) == math.ceil(1e6 + 3 * 1e3)


def test_the_arrival_term_takes_the_larger_of_utilisation_and_waits() -> None:
    s = spec(targetUtilization=0.9)
    # 20 jobs/s of 2 s jobs: 40 slots of load, 44.4 at 90 %: utilisation decides (12).
    short = arrival(s, 20.0, 2.0, service_s=2.0, slots=4)
    assert (short.replicas, "90% utilisation" in short.reason) == (12, True)
    # 0.2 jobs/s of 90 s jobs: 18 slots, 20 at 90 % (5 replicas), but a 30 s target
    # needs spare slots: 24.
    long = arrival(s, 0.2, 4 / 90, service_s=90.0, slots=4)
    assert long.replicas == 6
    assert "waits within 30s" in long.reason


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param(11, 11, id="a-third-of-a-replica-above-keeps-it"),
        pytest.param(12, 12, id="below-by-less-than-a-replica-and-a-third-keeps-it"),
        pytest.param(10, 12, id="beyond-the-tolerance-moves"),
        pytest.param(14, 12, id="far-above-moves-down"),
        pytest.param(None, 12, id="without-a-count-the-ceiling"),
    ],
)
def test_the_arrival_term_keeps_the_count_within_its_tolerance(
    current: int | None, expected: int
) -> None:
    # 19.8 jobs/s of 2 s jobs on 4 slots at 90 %: 11.0 replicas of need, rounded up 11;
    # 21 jobs/s: 11.67, rounded up 12.
    s = spec(targetUtilization=0.9)
    need = 21.0 if current != 11 else 19.98
    term = arrival(s, need, 2.0, current=current)
    assert term.replicas == expected


@pytest.mark.parametrize(
    ("need", "lam", "expected"),
    [
        pytest.param(1.0, 0.5, 0.3, id="few-replicas-a-third-of-one"),
        pytest.param(21.0, 8.0, 1.05, id="noisy-rate-capped-at-5-percent-of-need"),
        pytest.param(11.0, 20.0, 2 * 11 / math.sqrt(20 * 120), id="two-deviations-of-the-count"),
    ],
)
def test_the_tolerance_follows_the_rates_noise_within_bounds(
    need: float, lam: float, expected: float
) -> None:
    assert tolerance(need, lam) == pytest.approx(expected)
