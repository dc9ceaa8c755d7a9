"""``decide``: one scaling decision from one observation, as a pure function.

The pipeline is fixed and each stage may only explain itself by replacing the
winning :class:`Term`: demand terms -> saturation ceiling -> stabilisation ->
step limits -> zero rules -> min/max. The stabilisation window remembers the
sustained terms (arrivals, and the cold-start sizing while the service time
is unknown) for its whole length, but the backlog and age terms only until
their replicas could have started: they catch up on work already waiting, and
holding their peak for a window after it is done would keep idle replicas.
Paused and missing metrics short-circuit it: a paused queue keeps its
replicas (within min and max: a bound lowered while paused still applies);
without metrics the policy never scales down (it may only raise to
``fallback.replicas`` after ``fallback.failureThreshold`` misses).
"""

from __future__ import annotations

from dataclasses import replace

from sluice.stats import QueueStats

from ..spec import ScalingSpec
from . import startup
from .bounds import (
    activation,
    clamp,
    idle,
    keep_one,
    rate_cap,
    record,
    stabilise,
    step,
    zero_after,
)
from .decision import Decision
from .observation import Observation
from .rates import Rates, capacity, measure, remember
from .saturation import Guard, quick, reading, tail, update
from .state import PolicyState
from .terms import Term, demand_terms, in_flight, in_time

SUSTAINED = frozenset({"arrival", "running", "cold_start"})
CATCH_UP_POLLS = 2  # catch-up recommendations hold at least this many polls


def decide(
    spec: ScalingSpec, obs: Observation, state: PolicyState, now: float
) -> tuple[Decision, PolicyState]:
    """The replica count for this tick and the state for the next one."""
    if spec.paused:
        return _paused(spec, obs), state
    stats = obs.stats
    if stats is None or _stale(stats, state):
        return _without_metrics(spec, obs, state, now)
    return _with_metrics(spec, obs, stats, state, now)


def _paused(spec: ScalingSpec, obs: Observation) -> Decision:
    """Paused holds the count as found, hand edits included, but within the bounds."""
    replicas, limited = clamp(spec, obs.replicas)
    reason = f"paused: keeping {obs.replicas} replicas"
    if limited is not None:
        reason = f"paused at {obs.replicas} replicas, limited to {limited}Replicas {replicas}"
    return Decision(replicas, "paused", reason, limited=limited, metrics_ok=obs.stats is not None)


def _stale(stats: QueueStats, state: PolicyState) -> bool:
    """A snapshot no newer than the last one is the same old data."""
    return bool(state.samples) and stats.taken_at <= state.samples[-1].taken_at


def _with_metrics(
    spec: ScalingSpec, obs: Observation, stats: QueueStats, state: PolicyState, now: float
) -> tuple[Decision, PolicyState]:
    rates = measure(stats, obs.previous, state.samples, state.service_time_s,
                    held_rate=state.arrival_rate, held_since=state.rate_since)  # fmt: skip
    startup_s, starting = startup.measured(state.startup_s, state.starting, obs, now)
    # Until a scale-up was timed, the start-up the spec declares.
    start_s = spec.worker_startup_seconds if startup_s is None else startup_s
    since = _running_since(stats, rates, state, now)
    terms = demand_terms(spec, stats, rates, obs, None if since is None else now - since,
                         startup_s=start_s)  # fmt: skip
    guard = _guard(spec, stats, obs, state=state, service_s=rates.service_time_s, now=now)
    demand = in_time(spec, max(terms, key=lambda t: t.replicas), stats, obs,
                     rates=rates, startup_s=start_s)  # fmt: skip
    demand = _limited(_capped(demand, guard), obs, rates)
    sustained = _limited(_capped(_sustained(terms), guard), obs, rates)
    window = spec.scale_down.stabilization_window_seconds
    history = record(state.history, now, sustained.replicas, window)
    if demand.replicas > sustained.replicas:
        # Catch-up replicas stay until they could have started: no request-and-cancel churn.
        hold = max(start_s, CATCH_UP_POLLS * spec.polling_interval_seconds)
        history = record(history, now, demand.replicas, window, hold_s=hold)
    # The first tick starts the idle clock: a queue never seen busy may still go to zero.
    last_active = now if _active(stats, state) or state.last_active is None else state.last_active
    held = stabilise(demand, history, obs.replicas, rates_known=rates.arrival_rate is not None)
    # A recommendation the window remembers from before a finding does not outlive it.
    held = _capped(held, guard)
    running = in_flight(stats, obs.concurrency)
    zero = zero_after(spec, start_s, rates.arrival_rate, rates.event_rate)
    chosen = _bound(spec, obs.replicas, _floor(held, running, obs.replicas),
                    stats=stats, idle_s=now - last_active, zero=zero)  # fmt: skip
    replicas, limited = clamp(spec, chosen.replicas)
    decision = Decision(
        replicas, chosen.name, _sentence(chosen, replicas, limited),
        _numbers(stats, rates, [*terms, running], history, obs), limited,
        metrics_ok=True, arrival_rate=rates.arrival_rate, service_time_s=rates.service_time_s,
        saturated=guard.reason if guard.ceiling is not None else None,
    )  # fmt: skip
    new_state = PolicyState(
        history=history,
        samples=remember(state.samples, stats),
        service_time_s=rates.service_time_s,
        running_since=since,
        arrival_rate=rates.arrival_rate,
        rate_since=rates.rate_since,
        startup_s=startup_s,
        starting=startup.awaiting(starting, obs, replicas, now),
        guard=guard,
        last_active=last_active,
        last_scale=now if replicas != obs.replicas else state.last_scale,
        failures=0,
    )
    return decision, new_state


def _sustained(terms: list[Term]) -> Term:
    """The largest term the stabilisation window may remember."""
    kept = [t for t in terms if t.name in SUSTAINED]
    return max(kept, key=lambda t: t.replicas, default=Term("none", 0, "no sustained demand"))


def _guard(
    spec: ScalingSpec,
    stats: QueueStats,
    obs: Observation,
    *,
    state: PolicyState,
    service_s: float | None,
    now: float,
) -> Guard:
    if not spec.saturation.enabled or (stats.backlog == 0 and stats.in_flight == 0):
        return Guard()  # off, or an idle queue: nothing is saturated now
    long_s = tail(stats, state.samples)
    new = reading(stats, state.samples, service_s, long_s)
    if new is None and state.guard.ceiling is None and state.guard.down_from is None:
        new = quick(capacity(state.samples, stats), stats, state.samples)
    pinned = obs.replicas if obs.replicas >= spec.max_replicas and stats.backlog else None
    retry = spec.saturation.retry_seconds
    return update(state.guard, new, now=now, retry_s=retry, service_s=service_s,
                  tail_s=long_s, pinned=pinned, ready=len(stats.workers))  # fmt: skip


def _limited(term: Term, obs: Observation, rates: Rates) -> Term:
    """No more replicas than the queue's rate limit lets run."""
    return rate_cap(term, obs.rate_limit_per_s, rates.service_time_s, obs.concurrency)


def _capped(term: Term, guard: Guard) -> Term:
    if guard.ceiling is None or term.replicas <= guard.ceiling:
        return term
    return Term("saturated", guard.ceiling, f"{guard.reason} (demand {term.reason})")


def _running_since(stats: QueueStats, rates: Rates, state: PolicyState, now: float) -> float | None:
    """When this run of unfinished jobs was first seen (None once a service time is known).

    Jobs in flight at that time and still none finished (no service time yet)
    have been running at least since then. Conservative on a restart: it begins now.
    """
    if rates.service_time_s is not None or stats.in_flight == 0:
        return None
    return now if state.running_since is None else state.running_since


def _floor(held: Term, running: Term, current: int) -> Term:
    """Running jobs stop a scale-down short; they never cause a scale-up (draining
    pods' jobs count as in flight, and new pods would replace pods about to leave).
    A saturated queue sheds replicas all the same: they drain, and add nothing."""
    floor = min(running.replicas, current)
    if held.name == "saturated" or held.replicas >= floor:
        return held
    return Term(running.name, floor, running.reason)


def _bound(
    spec: ScalingSpec,
    current: int,
    held: Term,
    *,
    stats: QueueStats,
    idle_s: float,
    zero: tuple[float, str],
) -> Term:
    # Jobs due within the pre-scaling horizon wake a queue at zero and keep it awake.
    waiting = stats.backlog + stats.delayed_soon
    if current == 0:
        wanted = step(spec, held, current)
        return activation(spec, wanted, waiting, stats.in_flight, stats.oldest_age_s)
    busy = waiting > 0 or stats.in_flight > 0
    quiet = idle(held, busy, idle_s, *zero)
    if quiet.name == "idle" and quiet.replicas == 0:
        return quiet  # idle pods help no one: all of them leave at once
    return keep_one(step(spec, quiet, current), busy, idle_s, *zero)


def _active(stats: QueueStats, state: PolicyState) -> bool:
    """Anything waiting, due, running, or enqueued since the last snapshot."""
    if stats.backlog or stats.in_flight or stats.delayed_soon:
        return True
    last = state.samples[-1] if state.samples else None
    return last is not None and stats.counters.enqueued > last.counters.enqueued


def _without_metrics(
    spec: ScalingSpec, obs: Observation, state: PolicyState, now: float
) -> tuple[Decision, PolicyState]:
    failures = state.failures + 1
    fb = spec.fallback
    history = state.history
    if fb.replicas is not None and failures >= fb.failure_threshold:
        want = max(obs.replicas, fb.replicas)
        term = Term("fallback", want, f"metrics missing {failures} times: holding fallback {want}")
        # Counted like a recommendation, so returning metrics do not drop it at once.
        history = record(history, now, want, spec.scale_down.stabilization_window_seconds)
    else:
        term = Term("metrics_missing", obs.replicas, f"metrics missing ({failures}): no change")
    replicas, limited = clamp(spec, term.replicas)
    decision = Decision(
        replicas, term.name, _sentence(term, replicas, limited), {"failures": failures},
        limited, metrics_ok=False, arrival_rate=None, service_time_s=state.service_time_s,
    )  # fmt: skip
    last_scale = now if replicas != obs.replicas else state.last_scale
    return decision, replace(state, history=history, failures=failures, last_scale=last_scale)


def _numbers(
    stats: QueueStats,
    rates: Rates,
    terms: list[Term],
    history: tuple[tuple[float, int], ...],
    obs: Observation,
) -> dict[str, float]:
    numbers: dict[str, float] = {
        "backlog": stats.backlog,
        "in_flight": stats.in_flight,
        "oldest_age_s": stats.oldest_age_s or 0.0,
        "replicas": obs.replicas,
        "ready_replicas": obs.ready_replicas,
        "window_max": max(r for _, r in history),
    }
    if rates.arrival_rate is not None:
        numbers["arrival_rate"] = rates.arrival_rate
    if rates.service_time_s is not None:
        numbers["service_time_s"] = rates.service_time_s
    numbers.update({f"term_{t.name}": t.replicas for t in terms})
    return numbers


def _sentence(term: Term, replicas: int, limited: str | None) -> str:
    if limited is None:
        return f"{term.reason} -> {replicas}"
    return f"{term.reason} -> {term.replicas}, limited to {limited}Replicas {replicas}"
