"""``python -m benchmarks.peers``: install, start Redis, run every workload, write results.

Repetitions are interleaved (rep 1 of every library, then rep 2 ...), so a
slow drift of the machine spreads over all libraries instead of one.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from benchmarks.peers import catalog, chart, docpage, machine, report, venvs
from benchmarks.peers.aggregate import Sample
from benchmarks.peers.catalog import REPO_ROOT, PeerSpec
from benchmarks.peers.driver import AdapterError, Driver
from benchmarks.peers.ledger import Ledger
from benchmarks.peers.workloads import WORKLOADS, Bench, Plan, run_rep
from sluice_local.redis_server import RedisServer

CACHE = Path.home() / ".cache" / "sluice-bench"
# The docs page that shows the last full run, and where its chart goes (beside the page).
DOC_PAGE = REPO_ROOT / "docs" / "benchmarks" / "peers.md"
DOC_IMAGES = DOC_PAGE.parent / "img"
# Smoke leaves recovery out: it waits on lease expiry (30 s by default for Sluice).
SMOKE = Plan(sizes=(200,), reps=1, procs=(1,), rate=100.0, latency_s=1.0,
             recovery_timeout_s=5.0, drain_timeout_s=60.0, warmup_timeout_s=30.0,
             workloads=("enqueue", "drain", "latency"))  # fmt: skip


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="tiny N, Sluice and rq, one repetition")
    p.add_argument(
        "--peers",
        help="comma list (Sluice is always included); default: all but sluice_sync "
        "(Sluice with a sync handler)",
    )
    p.add_argument("--n", help="job counts, comma list (default 10000,50000)")
    p.add_argument("--reps", type=int, help="repetitions (default 5)")
    p.add_argument("--procs", help="worker process counts, comma list (default 1,4)")
    p.add_argument("--rate", type=float, help="arrival rate of the latency test, jobs/s")
    p.add_argument("--latency-seconds", type=float, help="duration of the latency test")
    p.add_argument("--recovery-timeout", type=float, help="seconds before held jobs count lost")
    p.add_argument("--drain-timeout", type=float, help="seconds before a drain run gives up")
    p.add_argument("--workloads", help=f"comma list of {','.join(WORKLOADS)}")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    p.add_argument("--venvs", type=Path, default=venvs.DEFAULT_ROOT)
    p.add_argument("--img-dir", type=Path, default=DOC_IMAGES, help="where the chart goes")
    p.add_argument("--docs", action="store_true", help="put the summary into the docs page")
    p.add_argument("--upgrade", action="store_true", help="reinstall every venv now")
    p.add_argument("--install-timeout", type=float, default=300.0, help="seconds per peer")
    return p.parse_args(argv)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x.replace("_", "")) for x in text.split(",") if x.strip())


def make_plan(args: argparse.Namespace) -> Plan:
    base = SMOKE if args.smoke else Plan()
    changes: dict[str, Any] = {
        "sizes": _ints(args.n) if args.n else base.sizes,
        "reps": args.reps or base.reps,
        "procs": _ints(args.procs) if args.procs else base.procs,
        "rate": args.rate or base.rate,
        "latency_s": args.latency_seconds or base.latency_s,
        "recovery_timeout_s": args.recovery_timeout or base.recovery_timeout_s,
        "drain_timeout_s": args.drain_timeout or base.drain_timeout_s,
    }
    if args.workloads:
        wanted = tuple(w.strip() for w in args.workloads.split(","))
        if unknown := set(wanted) - set(WORKLOADS):
            raise ValueError(f"unknown workload(s): {', '.join(sorted(unknown))}")
        changes["workloads"] = wanted
    return Plan(**{**base.__dict__, **changes})


class Clock:
    """Progress lines stamped with the time since the start."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:7.1f}s] {message}", flush=True)


def install(specs: list[PeerSpec], args: argparse.Namespace, log: Clock) -> dict[str, Any]:
    """Path of each peer's python, or the reason it has none."""
    found: dict[str, Any] = {}
    for spec in specs:
        got = venvs.ensure(
            spec, args.venvs, upgrade=args.upgrade, timeout_s=args.install_timeout, log=log
        )
        if got.python is None:
            log(f"[{spec.name}] NOT INSTALLED: {got.error}")
        elif got.reused:
            log(f"[{spec.name}] reusing {got.python.parent.parent}")
        found[spec.name] = got.python or {"error": f"install failed: {got.error}"}
    return found


def describe_peers(drivers: dict[str, Driver], info: dict[str, Any], log: Clock) -> None:
    for name, drv in drivers.items():
        try:
            info[name] = drv.call("info", timeout=120)
        except AdapterError as exc:
            info[name] = {"error": str(exc)}
            continue
        settings = "; ".join(f"{k}: {v}" for k, v in info[name]["settings"].items())
        log(f"[{name}] {info[name]['version']}: {settings}; bulk: {info[name]['bulk'] or 'none'}")


def measure(bench: Bench, drivers: dict[str, Driver], info: dict[str, Any]) -> list[Sample]:
    samples: list[Sample] = []
    for rep in range(1, bench.plan.reps + 1):
        bench.log(f"repetition {rep}/{bench.plan.reps}")
        for name, drv in drivers.items():
            if "error" not in info[name]:
                samples += run_rep(bench, drv, info[name], rep)
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    log = Clock()
    try:
        plan = make_plan(args)
        specs = catalog.select(args.peers or ("rq" if args.smoke else ",".join(catalog.DEFAULT)))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    pythons = install(specs, args, log)
    info: dict[str, Any] = {n: p for n, p in pythons.items() if isinstance(p, dict)}
    ready = {n: p for n, p in pythons.items() if isinstance(p, Path)}
    facts, samples = run_all(plan, ready, info, log)
    write_results(
        args, plan=plan, facts=facts, info={n: info[n] for n in pythons}, samples=samples, log=log
    )
    return 0


def run_all(
    plan: Plan, pythons: dict[str, Path], info: dict[str, Any], log: Clock
) -> tuple[dict[str, Any], list[Sample]]:
    """One fresh redis-server for the whole run; ``info`` gains each peer's settings."""
    logs = CACHE / "logs" / time.strftime("%Y%m%d-%H%M%S")
    with (
        tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp,
        RedisServer(Path(tmp)) as server,
    ):
        log(f"redis-server {server.binary} on {server.url}")
        ledger_url = server.url.rsplit("/", 1)[0] + "/1"  # the ledger has a database of its own
        drivers = {n: Driver(catalog.PEERS[n], p, server.url, ledger_url, logs)
                   for n, p in pythons.items()}  # fmt: skip
        describe_peers(drivers, info, log)
        client = redis.Redis.from_url(server.url)
        bench = Bench(plan, client, Ledger(ledger_url), log)
        try:
            facts = machine.describe(client)
            samples = measure(bench, drivers, info)
            facts["load_after"] = machine.load()
        finally:
            bench.ledger.close()
            client.close()
    log(f"worker logs in {logs}")
    return facts, samples


def write_results(
    args: argparse.Namespace,
    *,
    plan: Plan,
    facts: dict[str, Any],
    info: dict[str, Any],
    samples: list[Sample],
    log: Clock,
) -> None:
    command = "python -m benchmarks.peers " + shlex.join(sys.argv[1:] if args else [])
    stem = "peers-smoke" if args.smoke else "peers"
    md = report.markdown(facts, plan, command.strip(), info, samples)
    paths = report.write(args.out, stem, md, report.document(facts, plan, command, info, samples))
    peers = [p for p in info if "error" not in info[p]]
    # A smoke chart stays with the smoke results: only full runs belong in the docs.
    png_dir = args.out if args.smoke else args.img_dir
    png = chart.render(png_dir / f"{stem}.png", plan, peers, samples)
    print("\n" + md, flush=True)
    for path in [*paths, *([png] if png else [])]:
        log(f"wrote {path}")
    if args.docs:
        image = os.path.relpath(png, DOC_PAGE.parent) if png else None
        docpage.update(DOC_PAGE, md, image)
        log(f"updated {DOC_PAGE.relative_to(REPO_ROOT)}")
