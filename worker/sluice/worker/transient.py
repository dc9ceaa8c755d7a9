"""Which errors mean "Redis is away for now", and how long to wait before trying again.

The worker never dies of an outage: every loop catches :data:`TRANSIENT`,
waits with :class:`Backoff` (exponential, full jitter, capped) and tries
again, keeping what it has not yet written (outcomes) in memory.
"""

from __future__ import annotations

import random

import redis.exceptions

TRANSIENT: tuple[type[BaseException], ...] = (
    # Connection errors (including BusyLoadingError: a restart replaying its AOF),
    # timeouts, failovers (READONLY), and error replies such as OOM: none of them is
    # a reason for a worker to exit and drop what it holds.
    redis.exceptions.RedisError,
    OSError,
)


def describe(exc: BaseException) -> str:
    """For logs: the type, plus the server's message for an error reply (no credentials)."""
    if isinstance(exc, redis.exceptions.ResponseError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


class Backoff:
    """Delays of 0.05 s doubling to ``cap``, with full jitter; :meth:`reset` after a success."""

    def __init__(self, base: float = 0.05, cap: float = 2.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return random.uniform(0, min(self.cap, self.base * 2 ** min(self.failures, 30)))

    def reset(self) -> None:
        self.failures = 0
