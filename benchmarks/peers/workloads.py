"""The workloads, the same for every library; each returns samples, never raises.

Every run starts from an empty Redis (FLUSHALL) and fresh worker instances.
Drain: workers start, prove they are up by taking warm-up jobs, are paused
with SIGSTOP while the queue is filled, and the clock runs from SIGCONT until
the ledger holds N ids; so the figure is neither enqueue speed nor start-up
time. Latency: one worker at the library's default concurrency, jobs arriving
at a fixed rate, each reporting now - enqueue time. Recovery: a worker holding
jobs is SIGKILLed with its whole process tree; a replacement starts (as a
restarted pod would) and the clock runs until every one of those jobs
completed, or gives up and reports how many had not.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from benchmarks.peers import aggregate
from benchmarks.peers.aggregate import Sample
from benchmarks.peers.driver import AdapterError, Driver, WorkerProcess, stop_all
from benchmarks.peers.ledger import Ledger, LedgerCheck, check, job_ids

Log = Callable[[str], None]
WORKLOADS = ("enqueue", "drain", "io", "latency", "recovery")


class WorkloadError(RuntimeError):
    """A run could not produce a figure; the message says why."""


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...] = (10_000, 50_000)
    reps: int = 5
    procs: tuple[int, ...] = (1, 4)
    alt_concurrency: int = 10
    rate: float = 100.0
    latency_s: float = 10.0
    hold_jobs: int = 10
    recovery_timeout_s: float = 90.0
    # I/O-bound drain: jobs that wait this long (asyncio.sleep or time.sleep), this many
    # worker processes at the library's default concurrency.
    io_sleep_s: float = 0.005
    io_procs: int = 4
    drain_timeout_s: float = 120.0
    warmup_timeout_s: float = 60.0
    workloads: tuple[str, ...] = WORKLOADS


@dataclass
class Bench:
    plan: Plan
    redis: redis.Redis
    ledger: Ledger
    log: Log

    def reset(self) -> None:
        self.redis.flushall()


def params(**kv: object) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in kv.items())


def conc_label(concurrency: int | None) -> str:
    return "default" if concurrency is None else str(concurrency)


def concurrencies(info: dict[str, Any], alt: int) -> list[int | None]:
    """The library's default, plus ``alt`` where the library has such a knob and it differs."""
    has_alt = alt in info.get("concurrency_options", []) and info.get("concurrency_default") != alt
    return [None, *([alt] if has_alt else [])]


# --- enqueue ---------------------------------------------------------------


def enqueue_runs(bench: Bench, drv: Driver, info: dict[str, Any], rep: int) -> list[Sample]:
    samples = []
    modes = ["single", *(["bulk"] if info.get("bulk") else [])]
    for n in bench.plan.sizes:
        for mode in modes:
            bench.reset()
            tag = params(mode=mode, n=n)
            run = functools.partial(_enqueue, drv, n, mode)
            samples.append(_guard(bench, drv, "enqueue", tag=tag, rep=rep, run=run))
    return samples


def _enqueue(drv: Driver, n: int, mode: str) -> tuple[float, str]:
    answer = drv.call("enqueue", "--n", n, "--mode", mode)
    return n / answer["seconds"], ""


# --- drain -----------------------------------------------------------------


def drain_runs(bench: Bench, drv: Driver, info: dict[str, Any], rep: int) -> list[Sample]:
    samples = []
    mode = "bulk" if info.get("bulk") else "single"
    for n in bench.plan.sizes:
        for procs in bench.plan.procs:
            for conc in concurrencies(info, bench.plan.alt_concurrency):
                tag = params(n=n, procs=procs, concurrency=conc_label(conc))
                run = functools.partial(_drain, bench, drv, n=n, procs=procs, conc=conc, mode=mode)
                samples.append(_guard(bench, drv, "drain", tag=tag, rep=rep, run=run))
    return samples


def io_runs(bench: Bench, drv: Driver, info: dict[str, Any], rep: int) -> list[Sample]:
    """Drain of jobs that wait ``io_sleep_s`` each: what concurrency, not CPU, decides."""
    mode = "bulk" if info.get("bulk") else "single"
    samples = []
    for n in bench.plan.sizes:
        sleep_ms = f"{bench.plan.io_sleep_s * 1000:g}ms"
        tag = params(n=n, procs=bench.plan.io_procs, concurrency="default", job=sleep_ms)
        run = functools.partial(_drain, bench, drv, n=n, procs=bench.plan.io_procs, conc=None,
                                mode=mode, sleep=bench.plan.io_sleep_s)  # fmt: skip
        samples.append(_guard(bench, drv, "io_drain", tag=tag, rep=rep, run=run))
    return samples


def _drain(
    bench: Bench,
    drv: Driver,
    *,
    n: int,
    procs: int,
    conc: int | None,
    mode: str,
    sleep: float = 0.0,
) -> tuple[float, str]:
    bench.reset()
    workers = [drv.start_worker(i, conc) for i in range(procs)]
    try:
        warm_up(bench, drv, workers)
        for w in workers:
            w.pause()
        bench.ledger.reset()
        drv.call("enqueue", "--n", n, "--mode", mode, *(["--sleep", sleep] if sleep else []))
        for w in workers:
            w.resume()
        elapsed = bench.ledger.wait_for(
            n, bench.plan.drain_timeout_s, lambda done: bench.log(f"      ... {done}/{n}")
        )
        result = check(bench.ledger.counts(), job_ids("j", n))
    finally:
        stop_all(workers)
    return drain_figure(n, elapsed, bench.plan.drain_timeout_s, result)


def drain_figure(
    n: int, elapsed: float | None, timeout_s: float, result: LedgerCheck
) -> tuple[float, str]:
    """Jobs/s; a run stopped at its time limit still measured a steady rate, and says so."""
    if elapsed is None:
        if result.completed == 0:
            raise WorkloadError(f"no job completed in {timeout_s:.0f} s")
        note = f"stopped at {timeout_s:.0f} s with {result.completed}/{n} done: partial rate"
        return result.completed / timeout_s, note
    return n / elapsed, "" if result.ok else f"ledger: {result.describe()}"


def warm_up(bench: Bench, drv: Driver, workers: list[WorkerProcess]) -> None:
    """Feed small batches until every worker instance has completed a job.

    Some libraries hand a whole batch to whichever instance polls first (arq
    reads up to 100 ids per poll), so an instance may never get one; after
    WARM_GRACE_S of live processes and WARM_ROUNDS completed batches that is
    accepted as warm too.
    """
    started = time.monotonic()
    deadline = started + bench.plan.warmup_timeout_s
    batch, total, round_ = 10 * len(workers), 0, 0
    while time.monotonic() < deadline:
        _check_alive(workers)
        drv.call("enqueue", "--n", batch, "--prefix", f"w{round_}_", "--warm")
        total, round_ = total + batch, round_ + 1
        while time.monotonic() < deadline and bench.ledger.wait_for(total, 0.5) is None:
            _check_alive(workers)
        batch_done = bench.ledger.count() >= total
        elapsed = time.monotonic() - started
        if batch_done and warm_enough(bench.ledger.seen(), len(workers), round_, elapsed):
            return
    _check_alive(workers)
    raise WorkloadError(
        f"warm-up: {bench.ledger.seen()} of {len(workers)} worker instances took a job "
        f"in {bench.plan.warmup_timeout_s:.0f} s"
    )


WARM_ROUNDS, WARM_GRACE_S = 3, 5.0


def warm_enough(seen: int, instances: int, rounds: int, elapsed_s: float) -> bool:
    """Every instance took a job, or enough rounds of a live pool ran to trust start-up is over."""
    return seen >= instances or (rounds >= WARM_ROUNDS and elapsed_s >= WARM_GRACE_S)


def _check_alive(workers: list[WorkerProcess]) -> None:
    for w in workers:
        if not w.alive:
            raise WorkloadError(f"worker exited ({w.proc.returncode}): {w.log_tail()}")


# --- latency ---------------------------------------------------------------


def latency_runs(bench: Bench, drv: Driver, info: dict[str, Any], rep: int) -> list[Sample]:
    tag = params(rate=f"{bench.plan.rate:g}/s", procs=1, concurrency="default")
    try:
        p50, p99, note = _latency(bench, drv)
    except (AdapterError, WorkloadError, redis.RedisError) as exc:
        bench.log(f"      failed: {exc}")
        return [
            Sample(drv.spec.name, m, tag, rep, None, redact(str(exc)))
            for m in ("latency_p50", "latency_p99")
        ]
    return [
        Sample(drv.spec.name, "latency_p50", tag, rep, p50, note),
        Sample(drv.spec.name, "latency_p99", tag, rep, p99, note),
    ]


def _latency(bench: Bench, drv: Driver) -> tuple[float, float, str]:
    plan = bench.plan
    n = max(1, round(plan.rate * plan.latency_s))
    bench.reset()
    workers = [drv.start_worker(0, None)]
    try:
        warm_up(bench, drv, workers)
        bench.ledger.reset()
        answer = drv.call("paced", "--n", n, "--rate", plan.rate, "--prefix", "l")
        elapsed = bench.ledger.wait_for(n, plan.drain_timeout_s)
        samples = bench.ledger.latencies()
    finally:
        stop_all(workers)
    if elapsed is None or len(samples) < n:
        raise WorkloadError(f"only {len(samples)}/{n} jobs completed")
    note = latency_note(answer.get("worst_lag_s", 0.0), elapsed)
    ms = [s * 1000 for s in samples]
    p50, p99 = aggregate.percentile(ms, 50), aggregate.percentile(ms, 99)
    bench.log(f"      p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return p50, p99, note


def latency_note(enqueue_lag_s: float, tail_s: float) -> str:
    """Say when the figure is not what it claims: arrivals late, or a queue that grew."""
    notes = []
    if enqueue_lag_s > 0.05:
        notes.append(f"enqueue fell {enqueue_lag_s * 1000:.0f} ms behind the arrival rate")
    if tail_s > 1.0:
        notes.append(f"could not keep up: last job done {tail_s:.1f} s after the last arrival")
    return "; ".join(notes)


# --- recovery --------------------------------------------------------------


def recovery_runs(bench: Bench, drv: Driver, info: dict[str, Any], rep: int) -> list[Sample]:
    tag = params(jobs=bench.plan.hold_jobs, timeout=f"{bench.plan.recovery_timeout_s:g}s")
    return [_guard(bench, drv, "recovery", tag=tag, rep=rep, run=lambda: _recovery(bench, drv))]


def _recovery(bench: Bench, drv: Driver) -> tuple[float | None, str]:
    plan, k = bench.plan, bench.plan.hold_jobs
    bench.reset()
    victim = drv.start_worker(0, None)
    workers = [victim]
    try:
        warm_up(bench, drv, workers)
        bench.ledger.reset()
        drv.call("enqueue", "--n", k, "--prefix", "r", "--hold", 3600)
        if bench.ledger.wait_started(1, 30.0) is None:
            raise WorkloadError("the worker started none of the jobs within 30 s")
        time.sleep(0.5)  # let it take (or prefetch) all it will
        held = bench.ledger.started()
        victim.kill()
        killed_at = time.monotonic()
        workers.append(drv.start_worker(1, None))
        elapsed = bench.ledger.wait_for(
            k,
            plan.recovery_timeout_s,
            lambda done: bench.log(f"      ... {done}/{k} after the kill"),
        )
        waited = time.monotonic() - killed_at
        result = check(bench.ledger.counts(), job_ids("r", k))
    finally:
        stop_all(workers)
    if elapsed is None:
        return None, (
            f"{result.missing} of {k} not completed {waited:.0f} s after the kill "
            f"({held} were running)"
        )
    return elapsed, f"{held} running at the kill; {result.describe()}"


# --- plumbing ----------------------------------------------------------------


def _guard(
    bench: Bench,
    drv: Driver,
    metric: str,
    *,
    tag: tuple[tuple[str, str], ...],
    rep: int,
    run: Callable[[], tuple[float | None, str]],
) -> Sample:
    """Run one measurement; a failure becomes a sample with the reason, not an exception."""
    label = " ".join(f"{k}={v}" for k, v in tag)
    bench.log(f"  {drv.spec.name:<9} rep {rep} {metric} {label}")
    try:
        value, note = run()
    except (AdapterError, WorkloadError, redis.RedisError) as exc:
        bench.log(f"      failed: {exc}")
        return Sample(drv.spec.name, metric, tag, rep, None, redact(str(exc)))
    shown = "lost" if value is None else f"{value:,.1f}"
    bench.log(f"      {shown}{'  (' + note + ')' if note else ''}")
    # Only the recovery run answers None without raising: its jobs were lost.
    return Sample(drv.spec.name, metric, tag, rep, value, note, lost=value is None)


def redact(message: str) -> str:
    """Results get published: no home directory of the machine that made them."""
    return message.replace(str(Path.home()), "~")


RUNNERS = {
    "enqueue": enqueue_runs,
    "drain": drain_runs,
    "io": io_runs,
    "latency": latency_runs,
    "recovery": recovery_runs,
}


def run_rep(bench: Bench, drv: Driver, info: dict[str, Any], rep: int) -> list[Sample]:
    samples: list[Sample] = []
    for name in bench.plan.workloads:
        samples += RUNNERS[name](bench, drv, info, rep)
    return samples
