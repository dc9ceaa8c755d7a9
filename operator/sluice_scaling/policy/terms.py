"""Demand terms: each says how many replicas the queue needs, from one angle.

The recommendation is the largest term, so every angle is covered and the
winner explains the decision. With ``c`` slots per replica and a mean service
time ``S``, a replica serves ``mu = c / S`` jobs/s:

- arrival: Little's law at the target utilisation, ``lambda / (mu * u)``, or
  more where the queueing model (Erlang C, :mod:`.queueing`) needs spare slots
  to keep a job's chance of waiting past ``T`` under :data:`WAIT_P`;
- backlog: every job waiting now starts within the latency target ``T``,
  ``backlog / (mu * T)`` (a job's wait is the queue ahead of it over the
  throughput, so the backlog need not reach zero, only start in time);
- age: the oldest job already waited longer than ``T`` though replicas were
  ready, so the model underestimates: grow ready replicas by ``age / T``;
- cold_start: before any job finished ``S`` is unknown, so size by backlog
  per replica (``coldStartBacklogPerReplica``), one step at a time: while
  requested replicas are still starting, wait to see what they achieve. The
  backlog counted is the one the replicas will find when they start: what
  waits now plus the arrivals over the start-up while no replica is ready to
  drain it, not the few jobs of the first poll. But one poll's jobs may be a
  lump enqueued at once (a batch), which no more follow: until a second poll
  brings jobs, it expects as many again at most, and the poll that shows a
  stream may complete that first step while its replicas start.
- running: still before any job finished, jobs that have been running for
  ``r`` seconds show ``S >= r``. Replicas asked for now take jobs only after
  the start-up ``d``, and if none has finished by then, ``S >= r + d``: that
  is the bound that holds when the capacity matters (if one finishes sooner,
  the service time is known and this term gives way to the others). The
  arrival term (with its waiting-time model) and the backlog term at that
  capacity are a floor that rises while the first long jobs run, instead of
  waiting for one to finish.
- upcoming: delayed jobs (and cron fires) due within the pre-scaling horizon
  (worker start-up plus a poll) are not backlog yet, but a replica asked for
  later would start after they fall due: size for them, with what waits now,
  as the backlog term does (or per ``coldStartBacklogPerReplica`` before the
  service time is known), and at least one replica.

:func:`in_time` trims the catch-up terms (backlog, age) to the backlog new
replicas would still find when they are ready: the ready ones keep draining
for the measured start-up time, and a flood's last minute needs no replicas
that arrive after it is gone.

``in_flight`` is not a demand but a floor applied after stabilisation: never
ask for fewer replicas than the running jobs fill. It stays out of the
stabilisation window because a drained backlog briefly fills every slot, and
holding that peak would keep catch-up capacity for a whole window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sluice.stats import QueueStats

from ..spec import ScalingSpec
from .observation import Observation
from .queueing import slots_for
from .rates import HOLD_WINDOW_S, Rates

_EPS = 1e-9  # 4.0000000001 replicas of demand is 4, not 5
WAIT_P = 0.02  # the chance of waiting past the latency target the arrival term allows
TOLERANCE = 0.3  # replicas of need around the current count that keep it, at least ...
MAX_TOLERANCE = 0.05  # ... and at most this share of the need


@dataclass(frozen=True)
class Term:
    name: str
    replicas: int
    reason: str


def ceil(x: float) -> int:
    return max(0, math.ceil(x - _EPS))


def demand_terms(
    spec: ScalingSpec,
    stats: QueueStats,
    rates: Rates,
    obs: Observation,
    running_s: float | None = None,
    *,
    startup_s: float = 0.0,
) -> list[Term]:
    """Every applicable demand term; the caller takes the largest.

    ``running_s``: how long jobs have been running without any finishing, when
    the service time is still unknown (see :func:`running`); ``startup_s``: how
    long a replica asked for now takes to start.
    """
    late = age(spec, stats, obs.ready_replicas)
    terms = [late] if late is not None else []
    soon = upcoming(spec, stats, rates.service_time_s, obs.concurrency)
    terms += [soon] if soon is not None else []
    service_s = rates.service_time_s
    if service_s is None:
        lam = rates.arrival_rate or 0.0
        # One poll's jobs may be a lump enqueued at once, which no more follow: until a
        # second poll brings jobs too, expect as many again over the start-up at most.
        span = startup_s if rates.arrival_polls >= 2 else min(startup_s, rates.window_s)
        terms.append(cold_start(spec, stats, obs.replicas, obs.ready_replicas,
                                arriving=lam * span,
                                confirmed=rates.arrival_polls == 2))  # fmt: skip
        if running_s:
            terms.append(running(spec, stats, lam, running_s, obs, startup_s=startup_s))
        return terms
    slots = max(1, obs.concurrency)
    per_replica = slots / service_s
    lam = rates.arrival_rate or 0.0
    return [
        *terms,
        arrival(spec, lam, per_replica, service_s=service_s, slots=slots, current=obs.replicas),
        backlog(spec, stats, per_replica),
    ]


def in_flight(stats: QueueStats, concurrency: int) -> Term:
    n = ceil(stats.in_flight / max(1, concurrency))
    return Term("in_flight", n, f"{stats.in_flight} jobs running need {n} replicas")


def cold_start(
    spec: ScalingSpec,
    stats: QueueStats,
    replicas: int,
    ready: int,
    *,
    arriving: float = 0.0,
    confirmed: bool = False,
) -> Term:
    """Backlog per replica, for the backlog a replica asked for now will find.

    ``arriving``: the jobs expected over the start-up (arrival rate x start-up).
    While no replica is ready, nothing drains the queue, so what waits when new
    replicas start is what waits now plus those: sized on the first poll's few
    jobs, a queue of long jobs is still short when the replicas come up, and the
    next step is a start-up later. Once replicas are ready they drain it at a rate
    still unknown, and the backlog is counted as it is. The caller counts the
    arrivals over the whole start-up only once two polls brought jobs (one poll's
    may be a lump that no more follow); ``confirmed``, on the second one, lets the
    first step grow to ``scaleUp.maxStep`` although its replicas are still starting.
    """
    per = spec.cold_start_backlog_per_replica
    arriving = max(0.0, arriving) if ready == 0 else 0.0
    expected = stats.backlog + arriving
    n = ceil(expected / per)
    if confirmed and ready == 0:
        # The poll that shows a stream completes the first step the lump-wary poll before
        # held back, while its replicas start; a second step still waits for them.
        n = max(replicas, min(n, spec.scale_up.max_step))
    elif ready < replicas < n:
        reason = f"service time unknown: waiting for {replicas - ready} starting replicas"
        return Term("cold_start", replicas, reason)
    ahead = f" (+{arriving:.0f} arriving over the start-up)" if arriving >= 0.5 else ""
    return Term(
        "cold_start",
        n,
        f"service time unknown: backlog {stats.backlog}{ahead} at {per} per replica",
    )


def running(
    spec: ScalingSpec,
    stats: QueueStats,
    lam: float,
    running_s: float,
    obs: Observation,
    *,
    startup_s: float = 0.0,
) -> Term:
    """Size for the least service time the running jobs will show when new replicas start."""
    slots = max(1, obs.concurrency)
    bound = running_s + startup_s
    per_replica = slots / bound  # at most: S is at least the bound if none finished by then
    need = max(arrival(spec, lam, per_replica, service_s=bound, slots=slots),
               backlog(spec, stats, per_replica), key=lambda t: t.replicas)  # fmt: skip
    ahead = f" (+{startup_s:.0f}s start-up)" if startup_s else ""
    return Term(
        "running",
        need.replicas,
        f"service time unknown, over {running_s:.0f}s{ahead} (jobs still running): {need.reason}",
    )


def arrival(
    spec: ScalingSpec,
    lam: float,
    per_replica: float,
    *,
    service_s: float | None = None,
    slots: int = 1,
    current: int | None = None,
) -> Term:
    """At most ``targetUtilization`` busy; with ``service_s``, also waits within the target.

    With ``current``, a need within :func:`tolerance` of the current count keeps it:
    the rate's noise would otherwise move the count back and forth across a boundary,
    and a few percent more or less is what the queue absorbs.
    """
    u = spec.target_utilization
    need = lam / (per_replica * u)
    why = f"{u:.0%} utilisation"
    if service_s is not None and lam > 0:
        target = spec.latency_target_seconds
        waits = slots_for(lam * service_s, target / service_s, WAIT_P) / slots
        if waits > need:
            need, why = waits, f"waits within {target:g}s"
    n = ceil(need)
    band = tolerance(need, lam)
    if current and need > 0 and current - 1 - band < need <= current + band:
        n = current
    return Term(
        "arrival", n, f"arrivals {lam:.3g} jobs/s at {per_replica:.3g} jobs/s per replica and {why}"
    )


def tolerance(need: float, lam: float) -> float:
    """Replicas of need around the current count that keep it.

    A third of a replica, or what two deviations of the held rate's count are worth
    in replicas when that is more, but never over :data:`MAX_TOLERANCE` of the need.
    """
    noise = 2 * need / math.sqrt(max(1.0, lam * HOLD_WINDOW_S))
    return max(TOLERANCE, min(noise, MAX_TOLERANCE * need))


def backlog(spec: ScalingSpec, stats: QueueStats, per_replica: float) -> Term:
    target = spec.latency_target_seconds
    n = ceil(stats.backlog / (target * per_replica))
    return Term(
        "backlog",
        n,
        f"backlog {stats.backlog} starts within {target:g}s "
        f"at {per_replica:.3g} jobs/s per replica",
    )


def upcoming(
    spec: ScalingSpec, stats: QueueStats, service_s: float | None, concurrency: int
) -> Term | None:
    """Jobs due within the pre-scaling horizon, with the backlog, sized ahead of time."""
    soon = stats.delayed_soon
    if soon <= 0:
        return None
    work = stats.backlog + soon
    horizon = spec.prescale_horizon_seconds
    if service_s is None:
        per = spec.cold_start_backlog_per_replica
        n = max(1, ceil(work / per))
        how = f"at {per} per replica (service time unknown)"
    else:
        per_replica = max(1, concurrency) / service_s
        n = max(1, ceil(work / (spec.latency_target_seconds * per_replica)))
        how = f"within {spec.latency_target_seconds:g}s at {per_replica:.3g} jobs/s per replica"
    return Term(
        "upcoming", n, f"{soon} jobs due within {horizon:g}s, backlog {stats.backlog}, {how}"
    )


def age(spec: ScalingSpec, stats: QueueStats, ready: int) -> Term | None:
    target, oldest = spec.latency_target_seconds, stats.oldest_age_s
    if oldest is None or oldest <= target or ready <= 0:
        return None
    n = ceil(ready * oldest / target)
    return Term(
        "age", n, f"oldest job waited {oldest:.0f}s > {target:g}s target with {ready} ready"
    )


CATCH_UP = frozenset({"backlog", "age"})


def in_time(
    spec: ScalingSpec,
    demand: Term,
    stats: QueueStats,
    obs: Observation,
    *,
    rates: Rates,
    startup_s: float | None,
) -> Term:
    """Catch-up replicas only for the backlog still waiting when they could start."""
    service_s = rates.service_time_s
    if demand.name not in CATCH_UP or demand.replicas <= obs.replicas or not service_s:
        return demand
    per_replica = max(1, obs.concurrency) / service_s
    drain = obs.ready_replicas * per_replica - (rates.arrival_rate or 0.0)
    if startup_s is None or drain <= 0:
        return demand
    left = stats.backlog - drain * startup_s
    need = obs.ready_replicas + max(0, ceil(left / (per_replica * spec.latency_target_seconds)))
    if need >= demand.replicas:
        return demand
    reason = (
        f"{demand.reason}; but the {obs.ready_replicas} ready replicas leave "
        f"{max(0, round(left))} jobs by the time a new one starts ({startup_s:.0f}s)"
    )
    return Term("clearing", max(obs.replicas, need), reason)
