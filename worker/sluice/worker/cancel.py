"""Stopping background tasks when a cancellation can be lost.

redis-py's asyncio client (seen with 8.1 on Python 3.11) can swallow a
``CancelledError`` that lands while it opens a connection: the call returns
normally and the task runs on, so a single ``cancel()`` plus ``gather`` may
wait forever. :func:`cancel_and_wait` cancels again until each task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

RETRY_S = 0.1  # how long one cancellation gets before the next


async def cancel_and_wait(
    tasks: Iterable[asyncio.Future[Any]], timeout_s: float
) -> set[asyncio.Future[Any]]:
    """Cancel ``tasks`` until they end or ``timeout_s`` passes; returns those still running."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    pending = {t for t in tasks if not t.done()}
    done: set[asyncio.Future[Any]] = set()
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            break
        for task in pending:
            task.cancel()
        ended, pending = await asyncio.wait(pending, timeout=min(left, RETRY_S))
        done |= ended
    for task in done:  # retrieve outcomes: no "exception was never retrieved" at exit
        with contextlib.suppress(asyncio.CancelledError):
            task.exception()
    return pending
