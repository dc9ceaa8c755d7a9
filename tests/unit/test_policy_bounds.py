"""Each bound on its own: stabilisation, steps, zero rules, min/max."""

from __future__ import annotations

import pytest
from policy_snapshots import spec

from sluice_scaling.policy.bounds import (
    SLOW_COLD_START_IDLE_S,
    activation,
    clamp,
    idle,
    keep_one,
    record,
    stabilise,
    step,
    step_sizes,
    zero_after,
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


def test_a_held_recommendation_leaves_the_window_early() -> None:
    # Catch-up demand counts for its hold only: stamped as if it were older.
    history = record((), 100.0, 9, window_s=30.0, hold_s=20.0)
    assert history == ((90.0, 9),)
    assert record(history, 119.0, 2, window_s=30.0) == ((90.0, 9), (119.0, 2))
    assert record(history, 121.0, 2, window_s=30.0) == ((121.0, 2),)


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
    # The pod counts alone (percent 0): the larger-of rule is tested below.
    s = spec(scaleUp={"maxStep": up, "percent": 0}, scaleDown={"maxStep": down, "percent": 0})
    out = step(s, term(wanted), current)
    assert out.replicas == expected
    assert (f"at most {up}" in out.reason) == (wanted > current + up)


@pytest.mark.parametrize(
    ("current", "up_pct", "down_pct", "expected"),
    [
        pytest.param(2, 900, 50, (18, 4), id="two-replicas-up-by-percent-down-by-pods"),
        pytest.param(40, 900, 50, (360, 20), id="many-replicas-the-percentages-win"),
        pytest.param(40, 100, 100, (40, 40), id="hpa-defaults-double-or-all"),
        pytest.param(0, 900, 50, (10, 4), id="from-zero-the-pod-count"),
    ],
)
def test_steps_are_the_larger_of_pods_and_percent(
    current: int, up_pct: int, down_pct: int, expected: tuple[int, int]
) -> None:
    s = spec(scaleUp={"maxStep": 10, "percent": up_pct},
             scaleDown={"maxStep": 4, "percent": down_pct})  # fmt: skip
    assert step_sizes(s, current) == expected


def test_a_flood_reaches_its_target_within_two_polls() -> None:
    s = spec(maxReplicas=1000)
    first = step(s, term(417, "backlog"), 20)
    second = step(s, term(417, "backlog"), first.replicas)
    assert (first.replicas, second.replicas) == (200, 417)


def test_before_the_service_time_is_known_steps_are_the_pod_count() -> None:
    assert step(spec(maxReplicas=1000), term(500, "cold_start"), 20).replicas == 30


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
    out = keep_one(idle(term(wanted), busy, idle_s, 120.0, "why"), busy, idle_s, 120.0, "why")
    assert out.replicas == expected


@pytest.mark.parametrize(
    ("fields", "startup_s", "rate", "after_s", "because"),
    [
        pytest.param({}, 20.0, 1 / 120, 0.0, "keeps the 30s target", id="cold-start-fits-at-once"),
        pytest.param({}, 40.0, None, SLOW_COLD_START_IDLE_S, "would miss",
                     id="slow-cold-start-waits"),
        pytest.param({}, None, None, SLOW_COLD_START_IDLE_S, "no start-up measured",
                     id="unmeasured-waits"),
        pytest.param({}, 20.0, 0.2, SLOW_COLD_START_IDLE_S, "faster than a start-up",
                     id="arrivals-every-5s-keep-one"),
        pytest.param({"idleSecondsBeforeZero": 45}, 20.0, None, 45.0, "is 45s",
                     id="a-set-timer-holds-a-fitting-cold-start"),
        pytest.param({"idleSecondsBeforeZero": 5}, 40.0, None, 5.0, "is 5s",
                     id="a-set-timer-accepts-a-slow-cold-start"),
    ],
)  # fmt: skip
def test_zero_when_a_cold_start_keeps_the_target(
    fields: dict[str, float],
    startup_s: float | None,
    rate: float | None,
    after_s: float,
    because: str,
) -> None:
    # 5 s polls: a job arriving at zero waits half a poll on average, then the start-up.
    wait, why = zero_after(spec(**fields), startup_s, rate)
    assert wait == after_s
    assert because in why


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


def test_a_batch_counts_as_one_arrival_when_judging_zero() -> None:
    # Batches of 20 jobs every 3 minutes: 0.11 jobs/s, two a start-up, but one arrival
    # event every 180 s: a kept replica waits for the next batch two minutes idle.
    wait, why = zero_after(spec(), 20.0, 20 / 180, event_rate=1 / 180)
    assert (wait, "keeps the 30s target" in why) == (0.0, True)
    # A stream at that rate has an event rate to match: its replica stays.
    assert zero_after(spec(), 20.0, 20 / 180, event_rate=20 / 180)[0] == SLOW_COLD_START_IDLE_S
    assert zero_after(spec(), 20.0, 20 / 180)[0] == SLOW_COLD_START_IDLE_S
