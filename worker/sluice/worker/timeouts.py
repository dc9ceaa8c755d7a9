"""An attempt's time limit: a timeout of the job itself, told apart from a handler's own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from sluice.worker.outcomes import JobTimeout

T = TypeVar("T")


async def within(work: Awaitable[T], timeout_s: float) -> T:
    """``await work``, cancelled after ``timeout_s``: then :class:`JobTimeout`.

    A ``TimeoutError`` the handler raises itself (an HTTP call that timed out) stays
    an ordinary failure.
    """
    try:
        async with asyncio.timeout(timeout_s) as scope:
            return await work
    except TimeoutError:
        if scope.expired():
            raise JobTimeout(timeout_s) from None
        raise
