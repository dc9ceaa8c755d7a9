"""The completion ledger: counted in Redis by the job bodies, judged here.

Jobs run ``HINCRBY bench:ledger <id> 1`` on a database of their own, so the
harness sees exactly which ids completed and how often, whatever the library
says about itself. A run passes its check only if the expected ids completed
exactly once each: a missing id is a lost job, a count above one a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import redis

LEDGER, STARTED, LATENCY, SEEN = "bench:ledger", "bench:started", "bench:latency", "bench:seen"
POLL_S = 0.005


def job_ids(prefix: str, n: int) -> set[str]:
    """The ids the adapters give jobs ``0..n-1`` (same format as ``_common.payload``)."""
    return {f"{prefix}{i:07d}" for i in range(n)}


@dataclass(frozen=True)
class LedgerCheck:
    expected: int
    completed: int  # distinct expected ids seen at least once
    duplicates: int  # expected ids completed more than once
    unexpected: int  # ids nobody enqueued in this run

    @property
    def missing(self) -> int:
        return self.expected - self.completed

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.duplicates == 0 and self.unexpected == 0

    def describe(self) -> str:
        if self.ok:
            return f"exactly {self.expected} distinct ids, once each"
        parts = [f"{self.completed}/{self.expected} completed"]
        parts += [f"{self.duplicates} duplicated"] if self.duplicates else []
        parts += [f"{self.unexpected} unexpected"] if self.unexpected else []
        return ", ".join(parts)


def check(counts: Mapping[str, int], expected: Collection[str]) -> LedgerCheck:
    wanted = set(expected)
    done = {i for i, c in counts.items() if i in wanted and c > 0}
    return LedgerCheck(
        expected=len(wanted),
        completed=len(done),
        duplicates=sum(1 for i in done if counts[i] > 1),
        unexpected=sum(1 for i in counts if i not in wanted),
    )


class Ledger:
    """The harness's view of the ledger database."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, decode_responses=True)

    def reset(self) -> None:
        self.client.delete(LEDGER, STARTED, LATENCY, SEEN)

    def count(self) -> int:
        return int(self.client.hlen(LEDGER))

    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.client.hgetall(LEDGER).items()}

    def latencies(self) -> list[float]:
        return [float(v) for v in self.client.lrange(LATENCY, 0, -1)]

    def started(self) -> int:
        return int(self.client.scard(STARTED))

    def seen(self) -> int:
        return int(self.client.scard(SEEN))

    def wait_for(
        self, n: int, timeout_s: float, tick: Callable[[int], None] | None = None
    ) -> float | None:
        """Seconds until ``n`` distinct ids completed, or None when time ran out."""
        return _wait(self.count, n, timeout_s, tick)

    def wait_started(self, n: int, timeout_s: float) -> float | None:
        """Seconds until ``n`` held jobs have started (recovery test), or None."""
        return _wait(self.started, n, timeout_s, None)

    def close(self) -> None:
        self.client.close()


def _wait(
    read: Callable[[], int], n: int, timeout_s: float, tick: Callable[[int], None] | None
) -> float | None:
    start = time.monotonic()
    next_tick = start + 5.0
    while (now := time.monotonic()) - start < timeout_s:
        done = read()
        if done >= n:
            return now - start
        if tick and now >= next_tick:
            tick(done)
            next_tick = now + 5.0
        time.sleep(POLL_S)
    return None
