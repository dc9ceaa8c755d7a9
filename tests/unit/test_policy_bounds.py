"""Each bound on its own: stabilisation, steps, zero rules, min/max."""

from __future__ import annotations

import pytest
from policy_snapshots import spec

from sluice_scaling.policy.bounds import (
    activation,
    clamp,
    idle,
    keep_one,
    record,
    stabilise,
    step,
)
from sluice_scaling.policy.terms import Term


def term(n: int, name: str = "arrival") -> Term:
    return Term(name, n, f"{name} says {n}")


@pytest.mark.parametrize(
    ("history", "now_rec", "current", "expected", "name"),
    [
        pytest.param([9, 4], 4, 6, 6, "stabilization", id="window-max-above-current-holds"),
        pytest.param([5, 4], 4, 6, 5, "stabilization", id="down-to-window-max"),
        pytest.param([2, 2], 2, 6, 2, "arrival", id="window-agrees-scale-down"),
        pytest.param([3, 8], 8, 6, 8, "arrival", id="scale-up-is-not-held"),
    ],
)
def test_scale_down_only_to_the_window_max(
    history: list[int], now_rec: int, current: int, expected: int, name: str
) -> None:
    recs = tuple((float(i), r) for i, r in enumerate(history))
    out = stabilise(term(now_rec), recs, current, rates_known=True)
    assert (out.replicas, out.name) == (expected, name)


def test_no_scale_down_before_rates_are_known() -> None:
    out = stabilise(term(1), ((0.0, 1),), 6, rates_known=False)
    assert (out.replicas, out.name) == (6, "warmup")


def test_window_forgets_old_recommendations() -> None:
    history = record(((0.0, 9), (50.0, 5)), 70.0, 3, window_s=60.0)
    assert history == ((50.0, 5), (70.0, 3))


@pytest.mark.parametrize(
    ("wanted", "current", "up", "down", "expected"),
    [
        pytest.param(30, 2, 10, 2, 12, id="up-by-at-most-maxStep"),
        pytest.param(9, 2, 10, 2, 9, id="small-up-at-once"),
        pytest.param(0, 9, 10, 2, 7, id="down-by-at-most-maxStep"),
        pytest.param(7, 8, 10, 2, 7, id="small-down-at-once"),
    ],
)
def test_step_limits(wanted: int, current: int, up: int, down: int, expected: int) -> None:
    s = spec(scaleUp={"maxStep": up}, scaleDown={"maxStep": down})
    out = step(s, term(wanted), current)
    assert out.replicas == expected
    assert (f"at most {up}" in out.reason) == (wanted > current + up)


@pytest.mark.parametrize(
    ("backlog", "running", "threshold", "wanted", "expected"),
    [
        pytest.param(1, 0, 1, 0, 1, id="first-job-wakes"),
        pytest.param(4, 0, 5, 1, 0, id="below-threshold-stays-asleep"),
        pytest.param(5, 0, 5, 3, 3, id="threshold-reached-terms-decide"),
        pytest.param(0, 2, 5, 0, 1, id="running-jobs-wake"),
    ],
)
def test_activation_from_zero(
    backlog: int, running: int, threshold: int, wanted: int, expected: int
) -> None:
    out = activation(spec(activationBacklog=threshold), term(wanted), backlog, running)
    assert out.replicas == expected


@pytest.mark.parametrize(
    ("oldest", "wanted", "expected"),
    [
        pytest.param(29.0, 1, 0, id="young-job-below-threshold-sleeps"),
        pytest.param(31.0, 0, 1, id="late-job-wakes-with-one"),
        pytest.param(31.0, 2, 2, id="late-job-wakes-with-the-terms"),
        pytest.param(None, 1, 0, id="no-age-known-sleeps"),
    ],
)
def test_a_late_job_wakes_the_queue_below_the_threshold(
    oldest: float | None, wanted: int, expected: int
) -> None:
    s = spec(activationBacklog=5, latencyTargetSeconds=30)
    out = activation(s, term(wanted), 1, 0, oldest)
    assert out.replicas == expected
    assert (out.name == "activation") == (expected > 0)


@pytest.mark.parametrize(
    ("busy", "idle_s", "wanted", "expected"),
    [
        pytest.param(True, 500.0, 0, 1, id="work-exists-keeps-one"),
        pytest.param(False, 60.0, 0, 1, id="not-idle-long-enough-keeps-one"),
        pytest.param(False, 120.0, 0, 0, id="idle-period-passed-zero"),
        pytest.param(False, 120.0, 3, 0, id="idle-overrides-stale-rate"),
        pytest.param(False, 60.0, 3, 3, id="before-idle-period-terms-stand"),
    ],
)
def test_to_zero_only_after_the_idle_period(
    busy: bool, idle_s: float, wanted: int, expected: int
) -> None:
    s = spec(idleSecondsBeforeZero=120)
    out = keep_one(s, idle(s, term(wanted), busy, idle_s), busy, idle_s)
    assert out.replicas == expected


@pytest.mark.parametrize(
    ("replicas", "low", "high", "expected", "limit"),
    [
        pytest.param(12, 0, 10, 10, "max", id="max"),
        pytest.param(0, 2, 10, 2, "min", id="min"),
        pytest.param(5, 2, 10, 5, None, id="inside"),
        pytest.param(3, 0, 0, 0, "max", id="max-zero-wins"),
    ],
)
def test_clamp(replicas: int, low: int, high: int, expected: int, limit: str | None) -> None:
    assert clamp(spec(minReplicas=low, maxReplicas=high), replicas) == (expected, limit)
