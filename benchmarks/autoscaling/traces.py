"""Arrival traces: a rate over time, a service-time distribution, and their quirks.

Jobs are drawn from a generator seeded by the trace's name and a seed, so every
controller sees exactly the same jobs (arrival and service time) for one seed,
and several seeds give the spread. Arrivals are a Poisson process drawn in
quarter-second steps, fine enough for rates that flicker faster than any
controller polls. A trace may add a flood (many jobs at one instant), draw its
rate schedule from the seed (heavy-tailed on/off periods), or declare a
saturating dependency: past ``capacity`` ready replicas, every job started runs
``(ready / capacity) ** exponent`` times longer, so more replicas add no
throughput (exponent 1) or lose some (above 1).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

RateFn = Callable[[float], float]  # jobs/s at time t
ServiceFn = Callable[[random.Random, float], float]  # one job's service time, drawn at t
STEP_S = 0.25  # arrival generation step


@dataclass(frozen=True)
class Job:
    arrival: float  # seconds since the trace started
    service: float  # seconds the job runs once a worker takes it (before any slowdown)
    scheduled: bool = False  # in the queue ahead of its time, as a delayed job (or cron fire)


@dataclass(frozen=True)
class Flood:
    at: float  # seconds since the trace started
    count: int  # jobs enqueued at that instant (a backfill)
    service_s: float
    scheduled: bool = False  # known ahead: delayed jobs (or cron fires) due at that instant


@dataclass(frozen=True)
class Saturation:
    capacity: int  # ready replicas the dependency serves at full speed
    exponent: float = 1.0  # 1: throughput flat beyond capacity; > 1: it falls

    def factor(self, ready: int) -> float:
        return max(1.0, ready / self.capacity) ** self.exponent


@dataclass(frozen=True)
class Trace:
    name: str
    description: str
    duration_s: float
    rate: RateFn
    service: ServiceFn
    floods: tuple[Flood, ...] = ()
    schedule: Callable[[random.Random], RateFn] | None = None  # a rate drawn per seed
    saturation: Saturation | None = None
    max_replicas: int | None = None  # overrides the simulation's ceiling
    startup_s: float | None = None  # overrides the simulation's worker start-up
    rate_limit: float | None = None  # spec.jobs.rateLimit, jobs/s: the claim starts no more
    # Spans [start, end) of constant arrival rate: reversals are counted there.
    constant: tuple[tuple[float, float], ...] = ()
    load_end_s: float | None = None  # throughput is counted up to here (default: the end)

    def jobs(self, seed: int = 7) -> list[Job]:
        rng = random.Random(f"{self.name}:{seed}")
        rate = self.schedule(rng) if self.schedule is not None else self.rate
        jobs: list[Job] = []
        for flood in self.floods:
            jobs += [Job(flood.at, flood.service_s, flood.scheduled)] * flood.count
        steps = int(self.duration_s / STEP_S)
        for k in range(steps):
            start = k * STEP_S
            lam = rate(start + STEP_S / 2)
            if lam <= 0:
                continue
            t = start + rng.expovariate(lam)
            while t < start + STEP_S:
                jobs.append(Job(t, self.service(rng, t)))
                t += rng.expovariate(lam)
        jobs.sort(key=lambda j: j.arrival)
        return jobs

    def mean_service_s(self, seed: int = 7) -> float:
        """What a user measuring their jobs would call the mean service time."""
        jobs = self.jobs(seed)
        return sum(j.service for j in jobs) / len(jobs) if jobs else 1.0


# --- service-time distributions --------------------------------------------------------
def lognormal(mean: float, sigma: float) -> ServiceFn:
    """Service times with the given mean and log-space spread (a long right tail)."""
    mu = math.log(mean) - sigma * sigma / 2
    return lambda rng, t: rng.lognormvariate(mu, sigma)


def bimodal(short: float, long: float, p_long: float) -> ServiceFn:
    return lambda rng, t: long if rng.random() < p_long else short


def pareto(mean: float, alpha: float, cap: float = 300.0) -> ServiceFn:
    """A Pareto tail (alpha > 1): most jobs short, a few very long; none beyond ``cap``
    (the jobs' timeout, below the drain's grace period, as the JobQueue spec requires)."""
    scale = mean * (alpha - 1) / alpha
    return lambda rng, t: min(cap, scale * rng.paretovariate(alpha))


def shift(before: ServiceFn, after: ServiceFn, at: float) -> ServiceFn:
    return lambda rng, t: before(rng, t) if t < at else after(rng, t)


def drifting(mean: RateFn, sigma: float) -> ServiceFn:
    """Log-normal service times whose mean follows ``mean(t)`` (a dependency that degrades)."""
    return lambda rng, t: rng.lognormvariate(math.log(mean(t)) - sigma * sigma / 2, sigma)


def degrading(base: float, worst: float, begin: float, length: float, until: float) -> RateFn:
    """Mean service time: ``base``, rising linearly to ``worst`` over ``length`` from
    ``begin``, back to ``base`` at once at ``until`` (the dependency recovers)."""
    rise = ramp(base, worst, begin, length)
    return lambda t: rise(t) if t < until else base


# --- arrival rates -------------------------------------------------------------------
def steady(rate: float) -> RateFn:
    return lambda t: rate


def step(before: float, after: float, at: float) -> RateFn:
    return lambda t: before if t < at else after


def spike(base: float, peak: float, start: float, length: float) -> RateFn:
    return lambda t: peak if start <= t < start + length else base


def sine(mean: float, amplitude: float, period: float) -> RateFn:
    return lambda t: max(0.0, mean - amplitude * math.cos(2 * math.pi * t / period))


def bursts(rate: float, on: float, off: float) -> RateFn:
    return lambda t: rate if t % (on + off) < on else 0.0


def ramp(start: float, end: float, begin: float, length: float) -> RateFn:
    def rate(t: float) -> float:
        frac = min(1.0, max(0.0, (t - begin) / length))
        return start + (end - start) * frac

    return rate


def quiet_after(rate: RateFn, end: float) -> RateFn:
    """``rate`` until ``end``, then nothing (so scale-to-zero shows in the cost)."""
    return lambda t: rate(t) if t < end else 0.0


def heavy_on_off(rate: float, mean_on: float, mean_off: float, alpha: float, end: float) -> (
    Callable[[random.Random], RateFn]
):  # fmt: skip
    """On and off periods with Pareto lengths (alpha near 1: a few very long ones)."""

    def schedule(rng: random.Random) -> RateFn:
        edges, t, on = [], 0.0, False
        while t < end:
            mean = mean_on if on else mean_off
            t += mean * (alpha - 1) / alpha * rng.paretovariate(alpha)
            edges.append((t, on))
            on = not on

        def at(t: float) -> float:
            for until, is_on in edges:
                if t < until:
                    return rate if is_on else 0.0
            return 0.0

        return at

    return schedule


SHORT = lognormal(2.0, 0.6)  # a typical background job: ~2 s, tail to ~10 s
LONG = lognormal(90.0, 0.2)  # jobs that moved off HTTP timeouts: ~90 s each

BATCHES = (10, 5, 20, 15, 8, 12, 18, 6, 14, 20, 9, 16, 7, 11, 19)  # jobs per batch, in turn

TRACES: tuple[Trace, ...] = (
    Trace("steady", "20 jobs/s for 20 min", 1200, steady(20), SHORT, constant=((120, 1200),)),
    Trace("step", "2 -> 20 jobs/s after 5 min", 1200, step(2, 20, 300), SHORT,
          constant=((60, 300), (420, 1200))),
    Trace("spike", "2 jobs/s, 60 s at 30 jobs/s, then quiet", 900,
          quiet_after(spike(2, 30, 120, 60), 600), SHORT),
    Trace("diurnal", "sine 0..24 jobs/s over one compressed hour", 3600, sine(12, 12, 3600), SHORT),
    Trace("bursts", "2 min at 15 jobs/s, 3 min off", 1800, bursts(15, 120, 180), SHORT),
    Trace("long", "0.2 jobs/s of ~90 s jobs, then quiet", 1800,
          quiet_after(steady(0.2), 1200), LONG),
    Trace("shift", "8 jobs/s; service time 2 s -> 10 s at minute 5", 1500, steady(8),
          shift(SHORT, lognormal(10.0, 0.6), 300), constant=((90, 300), (600, 1500))),
    Trace("heavy-tail", "5 jobs/s; 90 % take 0.5 s, 10 % take 60 s", 1800, steady(5),
          bimodal(0.5, 60.0, 0.1), constant=((300, 1800),)),
    Trace("pareto", "10 jobs/s of Pareto service (mean 3 s, alpha 1.5)", 1800, steady(10),
          pareto(3.0, 1.5), constant=((300, 1800),)),
    Trace("ramp", "0 -> 30 jobs/s over 40 min, then 10 min flat", 3000,
          ramp(0, 30, 0, 2400), SHORT),
    Trace("on-off", "25 jobs/s in heavy-tailed on/off periods (mean 60 s / 120 s)", 2400,
          steady(0), SHORT, schedule=heavy_on_off(25, 60, 120, 1.5, 2400)),
    Trace("trickle", "one 1 s job every 2 min", 3600, steady(0), lambda rng, t: 1.0,
          floods=tuple(Flood(t, 1, 1.0) for t in range(60, 3600, 120))),
    Trace("flood", "50,000 one-second jobs at once (a backfill), then quiet", 900, steady(0),
          lambda rng, t: 1.0, floods=(Flood(30, 50_000, 1.0),), max_replicas=1000),
    Trace("flicker", "40 jobs/s for 1 s, then 2 s off: faster than any poll", 1200,
          bursts(40, 1, 2), SHORT, constant=((120, 1200),)),
    Trace("cron", "a cron fire of 40 ~3 s jobs every 10 min; workers take 45 s to start, "
          "longer than the 30 s target", 3600, steady(0), lambda rng, t: 3.0,
          floods=tuple(Flood(t, 40, 3.0, scheduled=True) for t in range(300, 3600, 600)),
          startup_s=45.0),
    Trace("rate-limited", "a backfill of 20,000 2 s jobs behind a rate limit of 20 jobs/s "
          "(an API's quota)", 1500, steady(0), lambda rng, t: 2.0,
          floods=(Flood(30, 20_000, 2.0),), rate_limit=20.0),
    Trace("saturating", "16 jobs/s of 2 s jobs for 20 min; a dependency serves 6 replicas "
          "at full speed, beyond that jobs slow down in proportion", 2100,
          quiet_after(steady(16), 1200), SHORT, saturation=Saturation(6, 1.0), load_end_s=1200),
    # Added after the policy changes they test, and not tuned on: a slow degradation with a
    # sudden recovery, and a dependency whose throughput falls past its capacity.
    Trace("degrading", "10 jobs/s; the service time creeps from 2 s to 6 s over 10 min, "
          "holds, and drops back to 2 s at minute 20", 1800, steady(10),
          drifting(degrading(2.0, 6.0, 300, 600, 1200), 0.6),
          constant=((120, 300), (1500, 1800))),
    Trace("thrashing", "12 jobs/s of ~3 s jobs for 20 min; a dependency serves 8 replicas at "
          "full speed, beyond that throughput falls (service time grows as the 1.5 power)",
          2100, quiet_after(steady(12), 1200), lognormal(3.0, 0.6),
          saturation=Saturation(8, 1.5), load_end_s=1200),
    # Added last and run as they came, without a change after: a cold start of jobs a
    # few polls long, and a service time that falls.
    Trace("medium", "4 jobs/s of ~15 s jobs from a cold start, then quiet", 1200,
          quiet_after(steady(4), 900), lognormal(15.0, 0.5), constant=((180, 900),)),
    Trace("speed-up", "6 jobs/s; service time 8 s -> 2 s at minute 5", 1200, steady(6),
          shift(lognormal(8.0, 0.6), SHORT, 300), constant=((120, 300), (420, 1200))),
    # Added after this round's policy changes and run once as they came: a step down,
    # and exponential service times (no log-normal body, a memoryless tail).
    Trace("step-down", "20 -> 4 jobs/s at minute 10, then quiet at minute 20", 1500,
          quiet_after(step(20, 4, 600), 1200), SHORT, constant=((120, 600), (720, 1200))),
    Trace("exponential", "8 jobs/s of exponentially distributed jobs (mean 4 s)", 1200,
          steady(8), lambda rng, t: rng.expovariate(0.25), constant=((120, 1200),)),
    # Added in the next round and measured before its change: lumps, not a stream. Each
    # batch is enqueued at once into an idle queue; the first lands before the policy's
    # second poll, when a rate read from one poll cannot tell a lump from a stream.
    Trace("batches", "a batch of 5-20 2 s jobs enqueued at once every 4 min into an idle "
          "queue, the first as the queue is first watched", 3600, steady(0),
          lambda rng, t: 2.0,
          floods=tuple(Flood(2 + 240 * k, n, 2.0) for k, n in enumerate(BATCHES))),
)  # fmt: skip


def by_name(name: str) -> Trace:
    for trace in TRACES:
        if trace.name == name:
            return trace
    raise KeyError(f"unknown trace {name!r}; use one of {', '.join(t.name for t in TRACES)}")
