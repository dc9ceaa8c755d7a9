"""cancel_and_wait: a task that swallows a cancellation still ends; one that never ends is named."""

from __future__ import annotations

import asyncio
import contextlib

from sluice.worker.cancel import cancel_and_wait


async def swallows_once() -> None:
    # What redis-py does to a cancellation that lands while it connects: the call returns.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(10)
    await asyncio.sleep(10)  # then the task goes on, as a heartbeat loop would


async def swallows_while(holding: asyncio.Event) -> None:
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if not holding.is_set():
                raise


async def fails() -> None:
    raise RuntimeError("boom")


async def test_a_swallowed_cancellation_is_repeated() -> None:
    task = asyncio.create_task(swallows_once())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], 5) == set()
    assert task.cancelled()


async def test_a_task_that_never_ends_is_returned_after_the_timeout() -> None:
    loop = asyncio.get_running_loop()
    holding = asyncio.Event()
    holding.set()
    stubborn, failing = asyncio.create_task(swallows_while(holding)), asyncio.create_task(fails())
    await asyncio.sleep(0)
    started = loop.time()
    assert await cancel_and_wait([stubborn, failing], 0.3) == {stubborn}
    assert 0.3 <= loop.time() - started < 1.0
    holding.clear()
    assert await cancel_and_wait([stubborn], 5) == set()
