"""What every peer adapter shares; runs INSIDE the peer's own virtualenv.

An adapter is a small script that speaks for one library. The harness runs it
as ``python <peer>_adapter.py <command>`` with the peer's interpreter, so this
module may import only the standard library and redis-py (every peer's venv
has redis-py, at whatever version that peer pins).

Commands, each answering one JSON object on the last line of stdout:

- ``info``: library version and the settings its worker runs with.
- ``enqueue --n N --mode single|bulk [--prefix P] [--hold S] [--sleep S]``: enqueue N
  no-op jobs (with ``--sleep``: jobs that wait S seconds, as I/O-bound jobs do) and
  time only the enqueue calls (connection set-up excluded).
- ``paced --n N --rate R``: enqueue N jobs at a fixed arrival rate, stamping
  each payload with its enqueue time so the job can report its latency.
- ``worker --concurrency C``: become one worker instance (never answers).

Completions are counted outside the library: every job body increments
``HINCRBY bench:ledger <id> 1`` on a separate Redis database, so the harness
can check that exactly N distinct ids completed, once each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

import redis
import redis.asyncio

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
LEDGER_URL = os.environ.get("BENCH_LEDGER_URL", "redis://127.0.0.1:6379/1")
# Set by the harness per worker instance; inherited by a library's child processes.
WORKER_INDEX = os.environ.get("BENCH_WORKER_INDEX", "")
QUEUE = "bench"
LEDGER, STARTED, LATENCY, SEEN = "bench:ledger", "bench:started", "bench:latency", "bench:seen"
PAYLOAD_BYTES = 100
BULK_CHUNK = 1000

Payload = dict[str, Any]


def payload(
    prefix: str, index: int, *, hold: float = 0.0, warm: bool = False, sleep: float = 0.0
) -> Payload:
    """A job argument whose JSON is ~100 bytes: id, enqueue time, padding, flags."""
    body: Payload = {"id": f"{prefix}{index:07d}", "t": 0.0}
    if hold:
        body["h"] = hold
    if sleep:
        body["s"] = sleep
    if warm:
        body["w"] = 1
    body["pad"] = ""
    missing = PAYLOAD_BYTES - len(json.dumps(body | {"t": time.time()}))
    body["pad"] = "x" * max(0, missing)
    return body


# --- job bodies: the whole "work" of a no-op job -----------------------------

_sync: tuple[int, redis.Redis] | None = None


def _ledger() -> redis.Redis:
    """One client per process: rq and celery fork after import, so key it on the pid."""
    global _sync  # noqa: PLW0603  (a per-process cache is the point)
    if _sync is None or _sync[0] != os.getpid():
        _sync = (os.getpid(), redis.Redis.from_url(LEDGER_URL))
    return _sync[1]


def complete(p: Payload) -> None:
    """The job body for synchronous libraries."""
    client = _ledger()
    if p.get("w"):
        client.sadd(SEEN, WORKER_INDEX)
    if p.get("h") and WORKER_INDEX == "0":  # only the victim of the SIGKILL test holds
        client.sadd(STARTED, p["id"])
        time.sleep(p["h"])
    if p.get("s"):  # an I/O-bound job: waits without using the CPU
        time.sleep(p["s"])
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(LEDGER, p["id"], 1)
    if p["t"]:
        pipe.rpush(LATENCY, time.time() - p["t"])
    pipe.execute()


_async: dict[int, redis.asyncio.Redis] = {}


def _aledger() -> redis.asyncio.Redis:
    key = id(asyncio.get_running_loop())
    if key not in _async:
        _async[key] = redis.asyncio.Redis.from_url(LEDGER_URL)
    return _async[key]


async def acomplete(p: Payload) -> None:
    """The job body for asyncio libraries."""
    client = _aledger()
    if p.get("w"):
        await client.sadd(SEEN, WORKER_INDEX)
    if p.get("h") and WORKER_INDEX == "0":
        await client.sadd(STARTED, p["id"])
        await asyncio.sleep(p["h"])
    if p.get("s"):
        await asyncio.sleep(p["s"])
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(LEDGER, p["id"], 1)
    if p["t"]:
        pipe.rpush(LATENCY, time.time() - p["t"])
    await pipe.execute()


# --- the adapter contract --------------------------------------------------


class SyncPeer:
    """A synchronous library's client side. Subclasses fill in the blanks."""

    bulk: str | None = None  # how the library enqueues many at once, if it can

    def info(self) -> dict[str, Any]:
        raise NotImplementedError

    def connect(self) -> None:
        """Open connections before the clock starts."""

    def enqueue_one(self, p: Payload) -> None:
        raise NotImplementedError

    def enqueue_bulk(self, ps: Sequence[Payload]) -> None:
        raise NotImplementedError

    def worker(self, concurrency: int | None) -> NoReturn:
        raise NotImplementedError


class AsyncPeer:
    """An asyncio library's client side."""

    bulk: str | None = "asyncio.gather of 1000 enqueues (no bulk API)"

    def info(self) -> dict[str, Any]:
        raise NotImplementedError

    async def connect(self) -> None:
        """Open connections before the clock starts."""

    async def close(self) -> None:
        """Release connections after the clock stops."""

    async def enqueue_one(self, p: Payload) -> None:
        raise NotImplementedError

    async def enqueue_bulk(self, ps: Sequence[Payload]) -> None:
        await asyncio.gather(*(self.enqueue_one(p) for p in ps))

    def worker(self, concurrency: int | None) -> NoReturn:
        raise NotImplementedError


def chunks(ps: Sequence[Payload], size: int = BULK_CHUNK) -> list[Sequence[Payload]]:
    return [ps[i : i + size] for i in range(0, len(ps), size)]


def _payloads(args: argparse.Namespace) -> list[Payload]:
    return [
        payload(args.prefix, i, hold=args.hold, warm=args.warm, sleep=args.sleep)
        for i in range(args.n)
    ]


def _sync_enqueue(peer: SyncPeer, args: argparse.Namespace) -> dict[str, Any]:
    ps = _payloads(args)
    peer.connect()
    start = time.perf_counter()
    if args.mode == "bulk":
        for chunk in chunks(ps):
            peer.enqueue_bulk(chunk)
    else:
        for p in ps:
            peer.enqueue_one(p)
    return {"seconds": time.perf_counter() - start, "n": len(ps)}


def _sync_paced(peer: SyncPeer, args: argparse.Namespace) -> dict[str, Any]:
    ps = _payloads(args)
    peer.connect()
    start, worst = time.perf_counter(), 0.0
    for i, p in enumerate(ps):
        lag = time.perf_counter() - (start + i / args.rate)
        if lag < 0:
            time.sleep(-lag)
        worst = max(worst, lag)
        p["t"] = time.time()
        peer.enqueue_one(p)
    return {"seconds": time.perf_counter() - start, "n": len(ps), "worst_lag_s": worst}


async def _async_enqueue(peer: AsyncPeer, args: argparse.Namespace) -> dict[str, Any]:
    ps = _payloads(args)
    await peer.connect()
    start = time.perf_counter()
    if args.mode == "bulk":
        for chunk in chunks(ps):
            await peer.enqueue_bulk(chunk)
    else:
        for p in ps:
            await peer.enqueue_one(p)
    seconds = time.perf_counter() - start
    await peer.close()
    return {"seconds": seconds, "n": len(ps)}


async def _async_paced(peer: AsyncPeer, args: argparse.Namespace) -> dict[str, Any]:
    ps = _payloads(args)
    await peer.connect()
    start, worst = time.perf_counter(), 0.0
    for i, p in enumerate(ps):
        lag = time.perf_counter() - (start + i / args.rate)
        if lag < 0:
            await asyncio.sleep(-lag)
        worst = max(worst, lag)
        p["t"] = time.time()
        await peer.enqueue_one(p)
    seconds = time.perf_counter() - start
    await peer.close()
    return {"seconds": seconds, "n": len(ps), "worst_lag_s": worst}


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info")
    for name in ("enqueue", "paced"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--n", type=int, required=True)
        cmd.add_argument("--mode", choices=("single", "bulk"), default="single")
        cmd.add_argument("--prefix", default="j")
        cmd.add_argument("--hold", type=float, default=0.0)
        cmd.add_argument("--sleep", type=float, default=0.0)
        cmd.add_argument("--warm", action="store_true")
        cmd.add_argument("--rate", type=float, default=100.0)
    worker = sub.add_parser("worker")
    worker.add_argument("--concurrency", type=int, default=0, help="0: the library's default")
    return parser.parse_args(argv)


def answer(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def run(peer: SyncPeer | AsyncPeer, argv: Sequence[str] | None = None) -> None:
    """The adapter's entry point: dispatch one command and answer in JSON."""
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.command == "worker":
        peer.worker(args.concurrency or None)
    if args.command == "info":
        answer({"bulk": peer.bulk, **peer.info()})
        return
    paced = args.command == "paced"
    if isinstance(peer, AsyncPeer):
        answer(asyncio.run(_async_paced(peer, args) if paced else _async_enqueue(peer, args)))
    else:
        answer(_sync_paced(peer, args) if paced else _sync_enqueue(peer, args))


def exec_argv(argv: list[str]) -> NoReturn:
    """Replace this process with the library's own worker CLI (same pid, same group)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606  (the library's own CLI, fixed argv, no shell)
