"""Arrival traces: a rate over time and a service-time distribution.

Jobs are drawn once per trace from a seeded generator, so every controller
sees exactly the same jobs (arrival time and service time).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    arrival: float  # seconds since the trace started
    service: float  # seconds the job runs once a worker takes it


@dataclass(frozen=True)
class Trace:
    name: str
    description: str
    duration_s: float
    rate: Callable[[float], float]  # jobs/s at time t
    service: Callable[[random.Random], float]  # one job's service time

    def jobs(self, seed: int = 7) -> list[Job]:
        """A Poisson process with rate ``rate(t)``, drawn second by second."""
        rng = random.Random(f"{self.name}:{seed}")
        jobs: list[Job] = []
        for second in range(int(self.duration_s)):
            lam = self.rate(second + 0.5)
            if lam <= 0:
                continue
            t = second + rng.expovariate(lam)
            while t < second + 1:
                jobs.append(Job(t, self.service(rng)))
                t += rng.expovariate(lam)
        return jobs


def lognormal(mean: float, sigma: float) -> Callable[[random.Random], float]:
    """Service times with the given mean and log-space spread (a long right tail)."""
    mu = math.log(mean) - sigma * sigma / 2
    return lambda rng: rng.lognormvariate(mu, sigma)


def steady(rate: float) -> Callable[[float], float]:
    return lambda t: rate


def step(before: float, after: float, at: float) -> Callable[[float], float]:
    return lambda t: before if t < at else after


def spike(base: float, peak: float, start: float, length: float) -> Callable[[float], float]:
    return lambda t: peak if start <= t < start + length else base


def sine(mean: float, amplitude: float, period: float) -> Callable[[float], float]:
    return lambda t: max(0.0, mean - amplitude * math.cos(2 * math.pi * t / period))


def bursts(rate: float, on: float, off: float) -> Callable[[float], float]:
    return lambda t: rate if t % (on + off) < on else 0.0


def quiet_after(rate: Callable[[float], float], end: float) -> Callable[[float], float]:
    """``rate`` until ``end``, then nothing (so scale-to-zero shows in the cost)."""
    return lambda t: rate(t) if t < end else 0.0


SHORT = lognormal(2.0, 0.6)  # a typical background job: ~2 s, tail to ~10 s
LONG = lognormal(90.0, 0.2)  # jobs that moved off HTTP timeouts: ~90 s each

TRACES: tuple[Trace, ...] = (
    Trace("steady", "20 jobs/s for 20 min", 1200, steady(20), SHORT),
    Trace("step", "2 -> 20 jobs/s after 5 min", 1200, step(2, 20, 300), SHORT),
    Trace("spike", "2 jobs/s, 60 s at 30 jobs/s, then quiet", 900,
          quiet_after(spike(2, 30, 120, 60), 600), SHORT),
    Trace("diurnal", "sine 0..24 jobs/s over one compressed hour", 3600, sine(12, 12, 3600), SHORT),
    Trace("bursts", "2 min at 15 jobs/s, 3 min off", 1800, bursts(15, 120, 180), SHORT),
    Trace("long", "0.2 jobs/s of ~90 s jobs, then quiet", 1800,
          quiet_after(steady(0.2), 1200), LONG),
)  # fmt: skip


def by_name(name: str) -> Trace:
    for trace in TRACES:
        if trace.name == name:
            return trace
    raise KeyError(f"unknown trace {name!r}; use one of {', '.join(t.name for t in TRACES)}")
