"""Bounds on the raw demand: stabilisation, step limits, zero and min/max.

Scale up at once (a late replica costs waiting jobs), scale down only on the
largest recommendation over the stabilisation window (a replica removed too
early comes back 20 s later, after jobs waited), and by bounded steps so a
quiet minute does not drop N replicas to 0 (the complaint in kedacore/keda#7770).
Zero is special: it is left on ``activationBacklog`` waiting jobs, on a job
running, or on one job that has waited past the latency target (a lone job
below the threshold must not wait forever), and entered only after
``idleSecondsBeforeZero`` with nothing waiting, due or running.
"""

from __future__ import annotations

import math

from ..spec import ScalingSpec
from .decision import Limit
from .terms import Term

History = tuple[tuple[float, int], ...]


def record(history: History, now: float, replicas: int, window_s: float) -> History:
    """``history`` plus this recommendation, without entries older than the window."""
    return (*((t, r) for t, r in history if t > now - window_s), (now, replicas))


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


def step(spec: ScalingSpec, term: Term, current: int) -> Term:
    """At most ``scaleUp.maxStep`` more or ``scaleDown.maxStep`` fewer replicas per decision."""
    up, down = spec.scale_up.max_step, spec.scale_down.max_step
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


def idle(spec: ScalingSpec, term: Term, busy: bool, idle_s: float) -> Term:
    """After the idle period with nothing waiting or running, aim for zero.

    This overrides the window: a rate estimate still remembering the last
    arrivals is no reason to keep replicas that have had nothing to do.
    """
    if busy or idle_s < spec.idle_seconds_before_zero:
        return term
    return Term("idle", 0, f"idle for {idle_s:.0f}s: nothing waiting, due or running")


def keep_one(spec: ScalingSpec, term: Term, busy: bool, idle_s: float) -> Term:
    """Above zero: keep one replica while work exists or until the idle period passed."""
    if term.replicas > 0:
        return term
    if busy:
        return Term("in_flight", 1, "jobs are waiting or running: keeping one replica")
    wait = spec.idle_seconds_before_zero
    if idle_s < wait:
        return Term("idle", 1, f"idle for {idle_s:.0f}s of {wait:g}s before scaling to zero")
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
