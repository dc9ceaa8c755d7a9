"""Figures per run, and the markdown table that compares them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .engine import Sample, Sim


@dataclass(frozen=True)
class Result:
    trace: str
    policy: str
    p50_s: float  # queue wait: enqueue to (final) start; unstarted jobs count to the end
    p95_s: float
    p99_s: float
    over_target_min: float  # minutes during which the oldest waiting job was past the target
    replica_seconds: float  # from each pod's request to its removal (start-up and drain cost)
    scale_events: int
    interrupted: int  # jobs killed mid-run by a scale-down (and run again)
    jobs: int
    samples: tuple[Sample, ...]


def _quantile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(trace: str, sim: Sim, duration_s: float) -> Result:
    waits = sorted(
        (j.start if j.start >= 0 else duration_s) - j.arrival
        for j in sim.jobs
        if j.arrival <= duration_s
    )
    target, step = sim.config.latency_target_s, sim.config.sample_s
    over = sum(step for s in sim.samples if s.oldest_wait_s > target)
    cost = sum((r.removed_at or duration_s) - r.requested for r in sim.replicas)
    return Result(
        trace=trace,
        policy=sim.controller.name,
        p50_s=_quantile(waits, 0.50),
        p95_s=_quantile(waits, 0.95),
        p99_s=_quantile(waits, 0.99),
        over_target_min=over / 60,
        replica_seconds=cost,
        scale_events=sim.scale_events,
        interrupted=sim.interrupted,
        jobs=len(waits),
        samples=tuple(sim.samples),
    )


HEADER = (
    "| trace | policy | wait p50 s | p95 s | p99 s | min over target | replica-s "
    "| vs oracle | scale events | interrupted |\n"
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
)


def table(results: Sequence[Result]) -> str:
    oracle = {r.trace: r.replica_seconds for r in results if r.policy == "oracle"}
    rows = [HEADER]
    for r in results:
        floor = oracle.get(r.trace)
        ratio = f"{r.replica_seconds / floor:.2f}x" if floor else "-"
        rows.append(
            f"| {r.trace} | {r.policy} | {r.p50_s:.1f} | {r.p95_s:.1f} | {r.p99_s:.1f} "
            f"| {r.over_target_min:.1f} | {r.replica_seconds:,.0f} | {ratio} "
            f"| {r.scale_events} | {r.interrupted} |"
        )
    return "\n".join(rows)


def verdict(results: Sequence[Result]) -> list[str]:
    """The goal, checked per trace and Sluice configuration: fewer minutes over the target
    at no more cost than KEDA (or as few at less cost), within 25 % of the oracle's cost,
    and no interrupted job."""
    lines = []
    for trace in dict.fromkeys(r.trace for r in results):
        by = {r.policy: r for r in results if r.trace == trace}
        k, o = by["keda"], by["oracle"]
        for name in (n for n in by if n.startswith("sluice")):
            s = by[name]
            faster = s.over_target_min < k.over_target_min
            cheaper = s.replica_seconds < k.replica_seconds
            beats = (faster and s.replica_seconds <= k.replica_seconds) or (
                cheaper and s.over_target_min <= k.over_target_min
            )
            checks = {
                "beats KEDA": beats,
                "within 25% of oracle": s.replica_seconds <= 1.25 * o.replica_seconds,
                "no interruptions": s.interrupted == 0,
            }
            marks = ", ".join(f"{c}: {'yes' if ok else 'NO'}" for c, ok in checks.items())
            lines.append(f"- {trace} / {name}: {marks}")
    return lines
