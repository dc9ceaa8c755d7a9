"""decide() end to end: paused, missing metrics, fallback, warm-up, reasons, zero and back."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from policy_snapshots import T0, obs, snap, spec, steady

from sluice.stats import QueueStats
from sluice_scaling.policy import Decision, PolicyState, decide
from sluice_scaling.spec import ScalingSpec


def drive(
    s: ScalingSpec,
    snaps: Sequence[QueueStats | None],
    replicas: int,
    state: PolicyState | None = None,
) -> tuple[list[Decision], PolicyState]:
    """Feed snapshots in order; the workload follows every decision at once."""
    state = state or PolicyState()
    previous: QueueStats | None = None
    decisions = []
    for i, stats in enumerate(snaps):
        now = stats.taken_at if stats else T0 + 1000 + i
        decision, state = decide(s, obs(stats, previous, replicas=replicas), state, now)
        decisions.append(decision)
        replicas = decision.replicas
        previous = stats or previous
    return decisions, state


def test_paused_keeps_replicas_within_the_bounds() -> None:
    decision, state = decide(
        spec(paused=True, maxReplicas=10),
        obs(snap(0, backlog=10_000), replicas=8),
        PolicyState(),
        T0,
    )
    assert (decision.replicas, decision.term, decision.limited) == (8, "paused", None)
    assert state == PolicyState()


@pytest.mark.parametrize(
    ("replicas", "expected", "limited"), [(8, 5, "max"), (1, 2, "min")], ids=["above", "below"]
)
def test_paused_outside_the_bounds_is_brought_to_the_bound(
    replicas: int, expected: int, limited: str
) -> None:
    """A bound lowered (or raised) while paused still applies: pause stops autoscaling only."""
    decision, state = decide(
        spec(paused=True, minReplicas=2, maxReplicas=5),
        obs(snap(0, backlog=10_000), replicas=replicas),
        PolicyState(),
        T0,
    )
    assert (decision.replicas, decision.term, decision.limited) == (expected, "paused", limited)
    assert f"limited to {limited}Replicas {expected}" in decision.reason
    assert state == PolicyState()


def test_missing_metrics_never_scale_down() -> None:
    s = spec(fallback={"failureThreshold": 2})
    decisions, state = drive(s, [None, None, None], replicas=6)
    assert [d.replicas for d in decisions] == [6, 6, 6]
    assert all(not d.metrics_ok and d.term == "metrics_missing" for d in decisions)
    assert state.failures == 3


@pytest.mark.parametrize(
    ("current", "fallback", "expected"),
    [
        pytest.param(1, 4, [1, 1, 4, 4], id="raise-to-fallback-after-threshold"),
        pytest.param(6, 4, [6, 6, 6, 6], id="fallback-below-current-does-not-scale-down"),
    ],
)
def test_fallback_after_the_failure_threshold(
    current: int, fallback: int, expected: list[int]
) -> None:
    s = spec(fallback={"failureThreshold": 3, "replicas": fallback})
    decisions, _ = drive(s, [None] * 4, replicas=current)
    assert [d.replicas for d in decisions] == expected
    assert [d.term for d in decisions] == ["metrics_missing"] * 2 + ["fallback"] * 2


def test_a_good_read_resets_the_failure_count() -> None:
    _, state = drive(spec(), [None, None], replicas=2)
    _, state = drive(spec(), [snap(0, backlog=3)], replicas=2, state=state)
    assert state.failures == 0


def test_a_snapshot_no_newer_than_the_last_counts_as_missing() -> None:
    first = snap(0, backlog=0)
    _, state = drive(spec(), [first], replicas=5)
    decision, _ = decide(spec(), obs(first, first, replicas=5), state, T0 + 10)
    assert (decision.replicas, decision.metrics_ok) == (5, False)


def test_first_tick_never_scales_down() -> None:
    decisions, _ = drive(spec(), [snap(0, in_flight=1, enqueued=10, completed=9)], replicas=9)
    assert (decisions[0].replicas, decisions[0].term) == (9, "warmup")


def _jump(polls: int) -> list[QueueStats]:
    """2 jobs/s of 2 s jobs for 40 s, then ``polls`` polls of 200 jobs in 5 s."""
    snaps = steady(2.0, 2.0, 8)  # polls at 0..35 s
    base = snaps[-1]
    return [*snaps, *(snap(40 + 5 * k, enqueued=base.counters.enqueued + 200 * (k + 1),
                           completed=base.counters.completed, service_s=2.0, backlog=150,
                           in_flight=8) for k in range(polls))]  # fmt: skip


def test_a_step_in_load_scales_up_on_the_second_poll_with_its_reason() -> None:
    # 200 jobs in 5 s is far beyond the noise of 10 expected. One such poll could be a
    # flood (the backlog term sizes for it); a second one makes it a rate: 40 jobs/s of
    # 2 s jobs on 4 slots at 90 % utilisation is 23 replicas, at once. (Before the rise
    # needed two polls, the first one decided, at 80 %: 25.)
    decisions, _ = drive(spec(scaleUp={"maxStep": 50}), _jump(2), replicas=2)
    first, last = decisions[-2], decisions[-1]
    assert first.arrival_rate == pytest.approx(2.0, rel=0.1)
    assert (last.replicas, last.term) == (23, "arrival")
    assert last.arrival_rate == pytest.approx(40.0)
    assert last.service_time_s == pytest.approx(2.0)
    assert "arrivals 40 jobs/s" in last.reason
    assert last.reason.endswith("-> 23")
    assert last.numbers["backlog"] == 150


def test_scale_up_is_bounded_by_max_step_and_percent() -> None:
    # The first poll of the jump: the backlog term (150 jobs in 30 s at 2 jobs/s per
    # replica) asks 3. The second: the arrival term's 23, by at most the step from 3.
    pods = spec(scaleUp={"maxStep": 10, "percent": 0})
    decisions, _ = drive(pods, _jump(2), replicas=2)
    assert [d.replicas for d in decisions[-2:]] == [3, 13]
    assert "up by at most 10" in decisions[-1].reason
    # 100 % of 3 replicas is 3, and so is the pod count: 6. At 500 %: 3 + 15 = 18.
    decisions, _ = drive(spec(scaleUp={"maxStep": 3, "percent": 100}), _jump(2), replicas=2)
    assert decisions[-1].replicas == 6
    decisions, _ = drive(spec(scaleUp={"maxStep": 3, "percent": 500}), _jump(2), replicas=2)
    assert decisions[-1].replicas == 18


def test_scale_down_waits_for_the_window_then_steps() -> None:
    s = spec(scaleDown={"stabilizationWindowSeconds": 60, "maxStep": 2, "percent": 0})
    decisions, _ = drive(s, steady(2.0, 2.0, 30), replicas=10)
    counts = [d.replicas for d in decisions]
    # 2 jobs/s of 2 s jobs on 4 slots at 90 %: 2 replicas, reached by steps of 2.
    assert counts[-1] == 2
    downs = [b - a for a, b in itertools.pairwise(counts) if b < a]
    assert downs
    assert all(d >= -2 for d in downs)


def test_idle_queue_goes_to_zero_only_after_the_idle_period() -> None:
    s = spec(idleSecondsBeforeZero=120, scaleDown={"stabilizationWindowSeconds": 30})
    busy = steady(2.0, 2.0, 4)
    end = busy[-1].counters.enqueued
    quiet = [snap(20 + 5 * k, enqueued=end, completed=end) for k in range(40)]
    decisions, _ = drive(s, [*busy, *quiet], replicas=2)
    zero_at = next(i for i, d in enumerate(decisions) if d.replicas == 0)
    quiet_for = quiet[zero_at - len(busy)].taken_at - quiet[0].taken_at
    assert quiet_for >= 115  # idle since the last arrival, seen at the first quiet poll
    assert decisions[zero_at].term == "idle"
    assert all(d.replicas >= 1 for d in decisions[:zero_at])


def test_from_zero_the_first_job_activates() -> None:
    decisions, _ = drive(spec(), [snap(0), snap(5, backlog=1, enqueued=1)], replicas=0)
    assert [d.replicas for d in decisions] == [0, 1]
    assert decisions[1].term == "cold_start"


@pytest.mark.parametrize(
    ("bounds", "expected", "limited"),
    [
        pytest.param(
            {"minReplicas": 0, "maxReplicas": 0}, 0, "max", id="max-zero-wins-over-backlog"
        ),
        pytest.param({"minReplicas": 0, "maxReplicas": 3}, 3, "max", id="max"),
        # 400 jobs in 5 s, 80/s over a 30 s start-up: a cold start of 280 replicas.
        pytest.param({"minReplicas": 300, "maxReplicas": 400}, 300, "min", id="min"),
    ],
)
def test_bounds_win(bounds: dict[str, int], expected: int, limited: str) -> None:
    decisions, _ = drive(spec(**bounds), [snap(0), snap(5, backlog=400, enqueued=400)], replicas=2)
    assert (decisions[-1].replicas, decisions[-1].limited) == (expected, limited)
    assert f"limited to {limited}Replicas" in decisions[-1].reason


def test_long_jobs_raise_replicas_before_the_first_one_finishes() -> None:
    # 0.2 jobs/s of jobs that run for minutes: the service time stays unknown, but every
    # tick the running jobs are older, so capacity per replica is bounded lower and lower.
    snaps = [snap(5 * k, enqueued=k, in_flight=min(k, 4), backlog=max(0, k - 4),
                  completed=0) for k in range(1, 19)]  # fmt: skip
    decisions, state = drive(spec(scaleUp={"maxStep": 50}), snaps, replicas=1)
    counts = [d.replicas for d in decisions]
    assert counts == sorted(counts)
    assert counts[-1] >= 4  # 0.2 jobs/s at <= 4/85 jobs/s per replica and 80 %
    assert decisions[-1].term == "running"
    assert state.running_since == T0 + 5  # since the first tick that saw a job running


def test_the_running_clock_stops_with_the_first_completion_or_an_empty_queue() -> None:
    running = [snap(5 * k, enqueued=4, in_flight=4) for k in range(1, 4)]
    _, state = drive(spec(), running, replicas=1)
    assert state.running_since == T0 + 5
    done = snap(20, enqueued=4, in_flight=3, completed=1, service_s=20.0)
    _, after_done = drive(spec(), [done], replicas=1, state=state)
    assert after_done.running_since is None  # the service time is measured now
    empty = snap(20, enqueued=4, completed=0)
    _, after_empty = drive(spec(), [empty], replicas=1, state=state)
    assert after_empty.running_since is None
