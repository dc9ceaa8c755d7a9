"""Sanity rules of decide() over random snapshot sequences (hypothesis).

The workload follows every decision (ready replicas lag at random), the
counters stay monotonic, and some reads fail. Whatever the sequence:

- the result lies within [minReplicas, maxReplicas] (paused: the count as
  found, brought within the bounds);
- it is zero only when nothing runs and nothing waits (or waits below the
  activation threshold at zero, none past the latency target), or when
  maxReplicas is 0: bounds win;
- a failed read never lowers the count (unless above maxReplicas);
- after a scale-up there is no scale-down within the stabilisation window,
  save the steps to zero once the queue has been idle and the saturation
  guard's ceiling: no down-up-down flapping. A scale-up to catch up on a
  backlog (backlog and age terms) holds only until its replicas could have
  started: at least two polls.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from policy_snapshots import T0, obs, snap, spec

from sluice.stats import QueueStats
from sluice_scaling.policy import Decision, PolicyState, decide
from sluice_scaling.spec import ScalingSpec


@dataclass(frozen=True)
class Tick:
    dt: float
    stats: QueueStats | None
    ready_lag: int  # replicas still starting


@st.composite
def specs(draw: st.DrawFn) -> ScalingSpec:
    low = draw(st.integers(0, 4))
    high = draw(st.integers(low, 40))
    fallback = draw(st.one_of(st.none(), st.integers(low, high)))
    return spec(
        minReplicas=low,
        maxReplicas=high,
        activationBacklog=draw(st.integers(1, 10)),
        idleSecondsBeforeZero=draw(st.sampled_from([0, 30, 120])),
        coldStartBacklogPerReplica=draw(st.integers(1, 20)),
        scaleUp={"maxStep": draw(st.integers(1, 20))},
        scaleDown={
            "maxStep": draw(st.integers(1, 10)),
            "stabilizationWindowSeconds": draw(st.sampled_from([0, 30, 60, 120])),
        },
        fallback={"failureThreshold": draw(st.integers(1, 4)), "replicas": fallback},
    )


@st.composite
def ticks(draw: st.DrawFn, steady: bool = False) -> list[Tick]:
    """Snapshots with monotonic counters; ``steady`` keeps a constant load with noise."""
    rate, service_s = draw(st.floats(0.5, 50)), draw(st.floats(0.05, 120))
    t, enqueued, completed, out = 0.0, 0, 0, []
    for _ in range(draw(st.integers(2, 40))):
        dt = 5.0 if steady else draw(st.floats(1, 30))
        t += dt
        if steady:
            arrived = max(0, round(rate * dt + draw(st.floats(-2, 2)) * (rate * dt) ** 0.5))
            done, waiting = arrived, draw(st.integers(0, 2))
            running = round(rate * service_s)
        else:
            arrived, done = draw(st.integers(0, 400)), draw(st.integers(0, 400))
            waiting, running = draw(st.integers(0, 3000)), draw(st.integers(0, 300))
        enqueued, completed = enqueued + arrived, completed + done
        missing = not steady and draw(st.integers(0, 9)) == 0
        stats = snap(t, backlog=waiting, in_flight=running, enqueued=enqueued,
                     completed=completed, service_s=service_s,
                     oldest=draw(st.floats(0, 600)) if waiting else None,
                     delayed_due=0 if steady else draw(st.integers(0, 3)))  # fmt: skip
        out.append(Tick(dt, None if missing else stats, draw(st.integers(0, 3))))
    return out


def run(s: ScalingSpec, seq: list[Tick], start: int) -> list[tuple[int, Tick, Decision, float]]:
    state, previous, replicas, now, out = PolicyState(), None, start, T0, []
    for tick in seq:
        now += tick.dt
        ready = max(0, replicas - tick.ready_lag)
        decision, state = decide(s, obs(tick.stats, previous, replicas=replicas, ready=ready),
                                 state, now)  # fmt: skip
        out.append((replicas, tick, decision, now))
        replicas, previous = decision.replicas, tick.stats or previous
    return out


@settings(max_examples=100, deadline=None)
@given(specs(), ticks(), st.integers(0, 60))
def test_result_within_bounds_unless_paused(s: ScalingSpec, seq: list[Tick], start: int) -> None:
    for _, _, decision, _ in run(s, seq, start):
        assert s.min_replicas <= decision.replicas <= s.max_replicas, decision.reason
        bound = {"max": s.max_replicas, "min": s.min_replicas}.get(decision.limited or "")
        assert bound is None or decision.replicas == bound


@settings(max_examples=50, deadline=None)
@given(specs(), ticks(), st.integers(0, 60))
def test_paused_changes_nothing_but_the_bounds(s: ScalingSpec, seq: list[Tick], start: int) -> None:
    paused = s.model_copy(update={"paused": True})
    held = min(max(start, s.min_replicas), s.max_replicas)
    for _, _, decision, _ in run(paused, seq, start):
        assert decision.replicas == held
        assert decision.term == "paused"


@settings(max_examples=100, deadline=None)
@given(specs(), ticks(), st.integers(0, 60))
def test_never_zero_while_work_exists(s: ScalingSpec, seq: list[Tick], start: int) -> None:
    for before, tick, decision, _ in run(s, seq, start):
        stats = tick.stats
        if decision.replicas or s.max_replicas == 0 or stats is None:
            continue
        assert stats.in_flight == 0, decision.reason
        waiting, late = stats.backlog, (stats.oldest_age_s or 0.0) > s.latency_target_seconds
        asleep = before == 0 and waiting < s.activation_backlog and not late
        assert waiting == 0 or asleep, decision.reason


@settings(max_examples=100, deadline=None)
@given(specs(), ticks(), st.integers(0, 60))
def test_missing_metrics_never_scale_down(s: ScalingSpec, seq: list[Tick], start: int) -> None:
    for before, tick, decision, _ in run(s, seq, start):
        if tick.stats is None:
            assert not decision.metrics_ok
            assert decision.replicas >= min(before, s.max_replicas), decision.reason


SUSTAINED = {"arrival", "running", "cold_start", "activation", "fallback", "warmup"}


def _no_down_within_window_after_up(
    s: ScalingSpec, steps: list[tuple[int, Tick, Decision, float]]
) -> None:
    window = s.scale_down.stabilization_window_seconds
    catch_up = min(window, 2 * s.polling_interval_seconds)
    last_up: tuple[float, float] | None = None  # (when, how long it holds)
    for before, _, decision, now in steps:
        if decision.replicas > before:
            last_up = (now, window if decision.term in SUSTAINED else catch_up)
        elif (decision.replicas < before and last_up is not None
              and decision.term not in {"idle", "saturated"}):  # fmt: skip
            assert now - last_up[0] >= last_up[1], decision.reason


@settings(max_examples=100, deadline=None)
@given(specs(), ticks(), st.integers(0, 60))
def test_no_scale_down_within_a_window_of_a_scale_up(
    s: ScalingSpec, seq: list[Tick], start: int
) -> None:
    in_bounds = min(max(start, s.min_replicas), s.max_replicas)  # the bounds move it at once
    _no_down_within_window_after_up(s, run(s, seq, in_bounds))


@settings(max_examples=100, deadline=None)
@given(specs(), ticks(steady=True), st.integers(0, 40))
def test_steady_load_does_not_flap(s: ScalingSpec, seq: list[Tick], start: int) -> None:
    in_bounds = min(max(start, s.min_replicas), s.max_replicas)
    _no_down_within_window_after_up(s, run(s, seq, in_bounds))
