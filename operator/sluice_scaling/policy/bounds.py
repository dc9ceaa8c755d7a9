"""Bounds on the raw demand: stabilisation, step limits, zero and min/max.

Scale up at once (a late replica costs waiting jobs), scale down only on the
largest sustained recommendation over the stabilisation window (a replica
removed too early comes back 20 s later, after jobs waited), and by steps of
the larger of a pod count and a percentage, as the HPA's policies, so a quiet
minute does not drop N replicas to 0 (the complaint in kedacore/keda#7770)
while a flood's idle capacity still leaves within the window.

Zero is special: it is left on ``activationBacklog`` waiting jobs, on a job
running, or on one job that has waited past the latency target (a lone job
below the threshold must not wait forever). It is entered when nothing waits,
is due or runs and the next job would still start within the latency target
from a cold start (the start-up plus half a polling interval) -- unless
arrivals come more often than one per start-up, when a replica kept costs
less than one started (a batch of jobs enqueued at once counts as one
arrival: its mean rate says nothing of how soon the next batch comes). A
queue whose cold start is slower than its target waits
:data:`SLOW_COLD_START_IDLE_S` idle first: a job nobody announced would miss
the target from zero, and only a replica kept warm can serve it in time (jobs
announced ahead, delayed or cron, wake a replica through pre-scaling). A set
``idleSecondsBeforeZero`` replaces the rule: zero after that long idle.
"""

from __future__ import annotations

import math

from ..spec import ScalingSpec
from .decision import Limit
from .terms import Term

History = tuple[tuple[float, int], ...]
SLOW_COLD_START_IDLE_S = 120.0  # idle time before zero when a cold start misses the target


def record(
    history: History, now: float, replicas: int, window_s: float, *, hold_s: float | None = None
) -> History:
    """``history`` plus this recommendation, without entries older than the window.

    ``hold_s``: the recommendation counts for this long only (stamped as if older).
    """
    stamp = now if hold_s is None else now - window_s + min(hold_s, window_s)
    return (*((t, r) for t, r in history if t > now - window_s), (stamp, replicas))


def stabilise(term: Term, history: History, current: int, *, rates_known: bool) -> Term:
    """Below the current count, hold the window's highest recommendation.

    Until a second snapshot gives rates (after a restart, say), the demand is
    half-known, and half-known data never scales down.
    """
    if term.replicas >= current:
        return term
    if not rates_known:
        return Term("warmup", current, f"no arrival rate yet: keeping {current}")
    held = min(current, max(r for _, r in history))
    if held <= term.replicas:
        return term
    reason = f"holding {held}: highest recommendation in the window (now {term.reason})"
    return Term("stabilization", held, reason)


def step_sizes(spec: ScalingSpec, current: int) -> tuple[int, int]:
    """Replicas one decision may add and remove: the larger of the pod count and the percent."""
    up = max(spec.scale_up.max_step, math.ceil(current * spec.scale_up.percent / 100))
    down = max(spec.scale_down.max_step, current * spec.scale_down.percent // 100)
    return up, down


def step(spec: ScalingSpec, term: Term, current: int) -> Term:
    """At most :func:`step_sizes` more or fewer replicas per decision.

    Before any job finished, the backlog per replica is a guess: it grows by the
    pod count only, until the first completions give the service time.
    """
    up, down = step_sizes(spec, current)
    if term.name == "cold_start":
        up = spec.scale_up.max_step
    if term.replicas > current + up:
        reason = f"{term.reason} -> {term.replicas}, up by at most {up}"
        return Term(term.name, current + up, reason)
    if term.replicas < current - down:
        reason = f"{term.reason} -> {term.replicas}, down by at most {down}"
        return Term(term.name, current - down, reason)
    return term


def activation(
    spec: ScalingSpec, term: Term, backlog: int, in_flight: int, oldest_s: float | None = None
) -> Term:
    """At zero replicas: wake on ``activationBacklog`` waiting jobs, any running, or a late one."""
    threshold, target = spec.activation_backlog, spec.latency_target_seconds
    late = backlog > 0 and (oldest_s or 0.0) > target
    if backlog < threshold and in_flight == 0 and late:
        reason = f"oldest job waited {oldest_s or 0.0:.0f}s > {target:g}s target"
        reason += f" (backlog {backlog} below activation threshold {threshold})"
        return Term("activation", max(1, term.replicas), f"{reason}: {term.reason}")
    if backlog >= threshold or in_flight > 0:
        if term.replicas >= 1:
            return term
        return Term("activation", 1, f"backlog {backlog} reached activation threshold {threshold}")
    return Term("idle", 0, f"backlog {backlog} below activation threshold {threshold}")


def zero_after(
    spec: ScalingSpec,
    startup_s: float | None,
    arrival_rate: float | None,
    event_rate: float | None = None,
) -> tuple[float, str]:
    """Idle seconds before zero, and why: 0 when a cold start keeps the target.

    A set ``idleSecondsBeforeZero`` is the user's word: zero after that long, whatever
    the cold start costs the next job. ``event_rate``: arrivals per second with a lump
    counted once (:func:`.rates.event_rate`); the lower of it and ``arrival_rate`` says
    how soon the next job comes.
    """
    if spec.idle_seconds_before_zero is not None:
        floor = spec.idle_seconds_before_zero
        return floor, f"idleSecondsBeforeZero is {floor:g}s"
    if startup_s is None:
        return SLOW_COLD_START_IDLE_S, "no start-up measured yet"
    cold = startup_s + spec.polling_interval_seconds / 2
    target = spec.latency_target_seconds
    if cold > target:
        return (
            SLOW_COLD_START_IDLE_S,
            f"a cold start ({cold:.0f}s) would miss the {target:g}s target",
        )
    # A batch is one arrival however many jobs it brings: what a kept replica saves is a
    # cold start for the next arrival, and batches come as often as arrival events do.
    rate = arrival_rate
    if rate and event_rate is not None:
        rate = min(rate, event_rate)
    if rate and rate * startup_s >= 1:
        why = f"arrivals ({rate:.3g}/s) come faster than a start-up"
        return SLOW_COLD_START_IDLE_S, why
    return 0.0, f"a cold start ({cold:.0f}s) keeps the {target:g}s target"


def idle(term: Term, busy: bool, idle_s: float, after_s: float, why: str) -> Term:
    """After ``after_s`` idle seconds with nothing waiting or running, aim for zero.

    This overrides the window: a rate estimate still remembering the last
    arrivals is no reason to keep replicas that have had nothing to do.
    """
    if busy or idle_s < after_s:
        return term
    return Term("idle", 0, f"idle for {idle_s:.0f}s: nothing waiting, due or running, and {why}")


def keep_one(term: Term, busy: bool, idle_s: float, after_s: float, why: str) -> Term:
    """Above zero: keep one replica while work exists or until ``after_s`` idle seconds."""
    if term.replicas > 0:
        return term
    if busy:
        return Term("in_flight", 1, "jobs are waiting or running: keeping one replica")
    if idle_s < after_s:
        return Term(
            "idle", 1, f"idle for {idle_s:.0f}s of {after_s:g}s before scaling to zero ({why})"
        )
    return term


def rate_cap(
    term: Term, rate_per_s: float | None, service_s: float | None, concurrency: int
) -> Term:
    """No more replicas than the rate limit can keep busy: ``rate x service time / slots``.

    Past that, a replica only waits for the limiter: a rate-limited backlog is no
    reason to scale to maxReplicas. Before a service time is known there is no cap.
    """
    if rate_per_s is None or service_s is None:
        return term
    cap = max(1, math.ceil(rate_per_s * service_s / max(1, concurrency) - 1e-9))
    if term.replicas <= cap:
        return term
    reason = (
        f"{term.reason} -> {term.replicas}, capped by the rate limit: {rate_per_s:.3g} jobs/s x "
        f"{service_s:.3g}s service / {concurrency} slots keeps {cap} replicas busy"
    )
    return Term("rate_limit", cap, reason)


def clamp(spec: ScalingSpec, replicas: int) -> tuple[int, Limit | None]:
    """Within [minReplicas, maxReplicas]; the bounds win over every other rule."""
    if replicas > spec.max_replicas:
        return spec.max_replicas, "max"
    if replicas < spec.min_replicas:
        return spec.min_replicas, "min"
    return replicas, None
