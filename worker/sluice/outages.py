"""A producer's calls through a Redis restart: retried for a bounded time, then a Sluice error.

Each client already retries a failed command three times (about a second, see
:mod:`sluice.connection`); a Redis restart or failover lasts longer. Enqueue
therefore retries connection errors for ``retry_for`` seconds more, with the
job ids fixed before the first try: the enqueue script is idempotent by id, so
a retry whose first attempt was stored (the reply was lost) adds nothing. Past
the window the caller gets :class:`~sluice.errors.RedisUnavailable`, never a
raw redis-py exception, naming the ids that may or may not be stored.

The loop is redis-py's own :class:`redis.retry.Retry` (and its asyncio twin)
with its ``ExponentialWithJitterBackoff``: the clients already use it, so it
costs no dependency (tenacity would add one to the base install, which worker
images and producers share). Its retries are counted, so the time bound comes
from ``is_retryable`` (false past the deadline) and a backoff clipped to the
time left. The first try runs outside it: the common case pays one ``try``.

Errors that retrying cannot mend (wrong password, no permission, no such
database) are :class:`~sluice.errors.RedisRefused` at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import redis.asyncio.retry
import redis.exceptions
import redis.retry
from redis.backoff import AbstractBackoff, ExponentialWithJitterBackoff

from sluice.errors import RedisRefused, RedisUnavailable

T = TypeVar("T")

DEFAULT_RETRY_S = 10.0  # covers a restart with a short AOF replay, or a failover
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0

# What a restart or failover looks like from a client: refused or dropped connections,
# timeouts, a server still loading its data, a replica that is no longer the primary.
RETRYABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    OSError,
)
_ANY = (redis.exceptions.RedisError, OSError)
_DB_ERRORS = ("DB index is out of range", "invalid DB index")


def refusal(exc: BaseException) -> str | None:
    """Why Redis refuses to serve us at all, if ``exc`` says so (no retry can help)."""
    if isinstance(exc, redis.exceptions.AuthenticationError | redis.exceptions.NoPermissionError):
        return f"Redis refused the credentials or the command: {exc}"
    if isinstance(exc, redis.exceptions.AuthenticationWrongNumberOfArgsError):
        return f"Redis refused the credentials: {exc}"
    if isinstance(exc, redis.exceptions.ResponseError) and any(e in str(exc) for e in _DB_ERRORS):
        return f"Redis refused the database number in the URL: {exc}"
    return None


def describe(exc: BaseException) -> str:
    """The error's type and message (redis-py's messages name host and port, no credentials)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Until(AbstractBackoff):
    """Backoff that never sleeps past the deadline (monotonic seconds)."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._inner = ExponentialWithJitterBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S)

    def reset(self) -> None:
        """Nothing to reset: the exponential backoff depends on the failure count only."""

    def compute(self, failures: int) -> float:
        left = self._deadline - time.monotonic()
        return max(0.0, min(float(self._inner.compute(failures)), left))


class Retrier:
    """Runs a call, retrying :data:`RETRYABLE` errors for ``retry_for`` seconds."""

    def __init__(self, retry_for: float, what: str) -> None:
        self.retry_for = retry_for
        self.what = what  # "enqueue to queue 'q'", for the error message

    def _policy(self) -> tuple[float, Callable[[Exception], bool]]:
        deadline = time.monotonic() + self.retry_for

        def retryable(exc: Exception) -> bool:
            return refusal(exc) is None and time.monotonic() < deadline

        return deadline, retryable

    def call(self, fn: Callable[[], T], ids: Sequence[str] = (), stored: Sequence[str] = ()) -> T:
        try:
            return fn()
        except _ANY as exc:
            self._first_failure(exc, ids, stored)
        deadline, retryable = self._policy()
        retry = redis.retry.Retry(_Until(deadline), -1, RETRYABLE)
        try:
            return retry.call_with_retry(fn, _ignore, is_retryable=retryable)
        except _ANY as exc:
            self._raise(exc, ids, stored)

    async def call_async(
        self,
        fn: Callable[[], Awaitable[T]],
        ids: Sequence[str] = (),
        stored: Sequence[str] = (),
    ) -> T:
        try:
            return await fn()
        except _ANY as exc:
            self._first_failure(exc, ids, stored)
        deadline, retryable = self._policy()
        retry = redis.asyncio.retry.Retry(_Until(deadline), -1, RETRYABLE)  # type: ignore[arg-type]
        try:
            return await retry.call_with_retry(fn, _ignore_async, is_retryable=retryable)
        except _ANY as exc:
            self._raise(exc, ids, stored)

    def _first_failure(self, exc: BaseException, ids: Sequence[str], stored: Sequence[str]) -> None:
        """Return to retry; raise when retrying cannot help (or is switched off)."""
        if refusal(exc) is not None or not isinstance(exc, RETRYABLE) or self.retry_for <= 0:
            self._raise(exc, ids, stored)

    def _raise(self, exc: BaseException, ids: Sequence[str], stored: Sequence[str]) -> NoReturn:
        why = refusal(exc)
        if why is not None:
            raise RedisRefused(f"{self.what}: {why}", ids, stored) from exc
        if not isinstance(exc, RETRYABLE):
            raise exc  # an error reply (OOM, a script error): the server's own words
        unsure = ""
        if ids:
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            unsure = (
                f"; {len(ids)} job(s) may or may not be stored ({shown}): enqueue them "
                "again with the same ids, which is safe (an existing id is a no-op)"
            )
        raise RedisUnavailable(
            f"{self.what}: Redis unreachable, retried for {self.retry_for:g}s "
            f"({describe(exc)}){unsure}",
            ids,
            stored,
        ) from exc


def _ignore(error: Any) -> None:
    """redis-py's Retry calls this after each failure; the next try opens a new connection."""


async def _ignore_async(error: Any) -> None:
    """The asyncio twin of :func:`_ignore`."""
