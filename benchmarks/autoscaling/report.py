"""Figures per run, their medians over seeds, the markdown table and the verdict.

Every figure in the table is the median over the seeds run (each seed draws
other jobs from the same trace); replica-seconds also show their min-max.
Ratios are taken per seed, then the median: "vs oracle" is the cost against
a clairvoyant floor, "vs tuned KEDA" against KEDA as its docs tell a user to
configure it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .engine import Sample, Sim
from .traces import Trace

FIVE_MIN_S = 300.0


@dataclass(frozen=True)
class Result:
    trace: str
    policy: str
    seed: int
    p50_s: float  # queue wait: enqueue to (final) start; unstarted jobs count to the end
    p95_s: float
    p99_s: float
    over_target_min: float  # minutes during which the oldest waiting job was past the target
    replica_seconds: float  # from each pod's request to its removal (start-up and drain cost)
    scale_events: int
    reversals: int  # scale events whose direction differs from the previous one
    reversals_per_5min: float | None  # on the trace's constant-rate spans (None: it has none)
    completed: int  # jobs finished by the trace's load end: the throughput under load
    peak: int  # most pods alive at once (starting, ready, draining)
    interrupted: int  # jobs killed mid-run by a scale-down (and run again)
    jobs: int
    samples: tuple[Sample, ...]


def _quantile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def reversal_times(scales: Sequence[tuple[float, int, int]]) -> list[float]:
    """When the replica count turned: up after down, or down after up."""
    times, last = [], 0
    for t, before, after in scales:
        direction = 1 if after > before else -1
        if last and direction != last:
            times.append(t)
        last = direction
    return times


def per_5min(times: Sequence[float], spans: Sequence[tuple[float, float]]) -> float | None:
    if not spans:
        return None
    inside = sum(1 for t in times if any(a <= t < b for a, b in spans))
    return inside / (sum(b - a for a, b in spans) / FIVE_MIN_S)


def _done_by(sim: Sim, t: float) -> int:
    return sum(1 for done in sim.completions if done <= t)


def summarise(trace: Trace, sim: Sim, duration_s: float, seed: int = 7) -> Result:
    waits = sorted(
        (j.start if j.start >= 0 else duration_s) - j.arrival
        for j in sim.jobs
        if j.arrival <= duration_s
    )
    target, step = sim.config.latency_target_s, sim.config.sample_s
    over = sum(step for s in sim.samples if s.oldest_wait_s > target)
    cost = sum((r.removed_at or duration_s) - r.requested for r in sim.replicas)
    turns = reversal_times(sim.scales)
    return Result(
        trace=trace.name,
        policy=sim.controller.name,
        seed=seed,
        p50_s=_quantile(waits, 0.50),
        p95_s=_quantile(waits, 0.95),
        p99_s=_quantile(waits, 0.99),
        over_target_min=over / 60,
        replica_seconds=cost,
        scale_events=sim.scale_events,
        reversals=len(turns),
        reversals_per_5min=per_5min(turns, trace.constant),
        completed=_done_by(sim, trace.load_end_s or duration_s),
        peak=max((s.alive for s in sim.samples), default=0),
        interrupted=sim.interrupted,
        jobs=len(waits),
        samples=tuple(sim.samples),
    )


@dataclass(frozen=True)
class Summary:
    """One policy on one trace: medians over seeds."""

    trace: str
    policy: str
    seeds: int
    p50_s: float
    p95_s: float
    p99_s: float
    over_target_min: float
    replica_seconds: float
    replica_seconds_range: tuple[float, float]
    vs_oracle: float | None
    vs_tuned_keda: float | None
    peak: float
    completed: float
    reversals: float
    reversals_per_5min: float | None
    interrupted: float


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _ratio(runs: Sequence[Result], by_seed: dict[int, Result]) -> float | None:
    base = {seed: r.replica_seconds for seed, r in by_seed.items() if r.replica_seconds > 0}
    ratios = [r.replica_seconds / base[r.seed] for r in runs if r.seed in base]
    return _median(ratios) if ratios else None


def aggregate(results: Sequence[Result]) -> list[Summary]:
    """Medians per (trace, policy), in the order the runs came."""
    out = []
    keys = dict.fromkeys((r.trace, r.policy) for r in results)
    for trace, policy in keys:
        runs = [r for r in results if (r.trace, r.policy) == (trace, policy)]
        oracle = {r.seed: r for r in results if r.trace == trace and r.policy == "oracle"}
        tuned = {r.seed: r for r in results if r.trace == trace and r.policy == "keda-tuned"}
        rev = [r.reversals_per_5min for r in runs if r.reversals_per_5min is not None]
        cost = [r.replica_seconds for r in runs]
        out.append(
            Summary(
                trace,
                policy,
                len(runs),
                p50_s=_median([r.p50_s for r in runs]),
                p95_s=_median([r.p95_s for r in runs]),
                p99_s=_median([r.p99_s for r in runs]),
                over_target_min=_median([r.over_target_min for r in runs]),
                replica_seconds=_median(cost),
                replica_seconds_range=(min(cost), max(cost)),
                vs_oracle=_ratio(runs, oracle),
                vs_tuned_keda=_ratio(runs, tuned),
                peak=_median([r.peak for r in runs]),
                completed=_median([r.completed for r in runs]),
                reversals=_median([r.reversals for r in runs]),
                reversals_per_5min=_median(rev) if rev else None,
                interrupted=_median([r.interrupted for r in runs]),
            )
        )
    return out


HEADER = (
    "| trace | policy | wait p50 s | p95 s | p99 s | min over target | replica-s (min-max) "
    "| vs oracle | vs tuned KEDA | peak pods | jobs done | reversals (/5 min steady) "
    "| interrupted |\n"
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)


def _x(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio is not None else "-"


def table(summaries: Sequence[Summary]) -> str:
    rows = [HEADER]
    for s in summaries:
        lo, hi = s.replica_seconds_range
        spread = f"{s.replica_seconds:,.0f} ({lo:,.0f}-{hi:,.0f})" if s.seeds > 1 else (
            f"{s.replica_seconds:,.0f}")  # fmt: skip
        steady = f" ({s.reversals_per_5min:.1f})" if s.reversals_per_5min is not None else ""
        rows.append(
            f"| {s.trace} | {s.policy} | {s.p50_s:.1f} | {s.p95_s:.1f} | {s.p99_s:.1f} "
            f"| {s.over_target_min:.1f} | {spread} | {_x(s.vs_oracle)} | {_x(s.vs_tuned_keda)} "
            f"| {s.peak:.0f} | {s.completed:,.0f} | {s.reversals:.0f}{steady} "
            f"| {s.interrupted:.0f} |"
        )
    return "\n".join(rows)


def checks(s: Summary, by: dict[str, Summary], trace: Trace) -> dict[str, bool]:
    """The targets of one Sluice summary against its trace's baselines (medians)."""
    oracle, tuned, keda = by["oracle"], by["keda-tuned"], by["keda"]
    found = {
        "0 min over target where the oracle has 0": oracle.over_target_min > 0
        or s.over_target_min == 0,
        "<= 1.15x oracle": (s.vs_oracle or 0) <= 1.15,
        "<= tuned KEDA + 10 %": (s.vs_tuned_keda or 0) <= 1.10,
        "no job interrupted": s.interrupted == 0,
    }
    if s.reversals_per_5min is not None:
        found["<= 1 reversal / 5 min steady"] = s.reversals_per_5min <= 1.0
    if trace.rate_limit is not None:
        fewer = s.replica_seconds < min(tuned.replica_seconds, keda.replica_seconds) / 2
        found["under half KEDA's replica-seconds"] = fewer
    if trace.saturation is not None:
        # Replicas over the run (replica-seconds); peak pods are in the table beside it.
        fewer = s.replica_seconds < min(tuned.replica_seconds, keda.replica_seconds)
        found["fewer replicas than KEDA"] = fewer
        found["no worse throughput"] = s.completed >= 0.99 * max(tuned.completed, keda.completed)
    return found


def verdict(summaries: Sequence[Summary], traces: Sequence[Trace]) -> list[str]:
    lines = []
    for trace in traces:
        by = {s.policy: s for s in summaries if s.trace == trace.name}
        if not {"sluice", "oracle", "keda", "keda-tuned"} <= set(by):
            continue
        marks = checks(by["sluice"], by, trace)
        failed = [c for c, ok in marks.items() if not ok]
        status = "all met" if not failed else "NOT met: " + "; ".join(failed)
        lines.append(f"- {trace.name}: {status}")
    return lines
