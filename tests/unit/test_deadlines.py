"""One timer for every running job's time limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sluice.worker.deadlines import Deadlines

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def wrapped() -> T:
        return await main()

    return asyncio.run(wrapped())


def test_each_item_expires_at_its_own_deadline_and_not_before() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        seen: list[tuple[str, float]] = []
        d: Deadlines[str] = Deadlines(loop, lambda item: seen.append((item, loop.time() - start)))
        d.add("slow", 0.30)
        d.add("fast", 0.05)  # earlier than the armed timer: re-arms it
        await asyncio.sleep(0.15)
        assert [item for item, _ in seen] == ["fast"]
        await asyncio.sleep(0.30)
        return seen

    seen = run(main)
    assert [item for item, _ in seen] == ["fast", "slow"]
    assert seen[0][1] >= 0.05
    assert seen[1][1] >= 0.30


def test_an_item_removed_in_time_never_expires_and_the_others_still_do() -> None:
    async def main() -> tuple[list[str], int]:
        loop = asyncio.get_running_loop()
        seen: list[str] = []
        d: Deadlines[str] = Deadlines(loop, seen.append)
        d.add("done", 0.05)
        d.add("stuck", 0.10)
        d.remove("done")  # the armed timer fires for nothing due and re-arms
        d.add("done-later", 0.5)
        d.remove("done-later")
        await asyncio.sleep(0.3)
        return seen, len(d)

    assert run(main) == (["stuck"], 0)


def test_close_forgets_every_deadline() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        seen: list[str] = []
        d: Deadlines[str] = Deadlines(loop, seen.append)
        d.add("a", 0.02)
        d.close()
        await asyncio.sleep(0.1)
        return seen

    assert run(main) == []


def test_an_item_expired_by_the_callback_can_be_added_again() -> None:
    # The worker's timeout callback may start an abandon timer or re-add: _fire must
    # have re-armed before it calls out.
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        seen: list[str] = []

        def expire(item: str) -> None:
            seen.append(item)
            if len(seen) < 2:
                d.add(item, 0.02)

        d: Deadlines[str] = Deadlines(loop, expire)
        d.add("a", 0.02)
        await asyncio.sleep(0.2)
        return seen

    assert run(main) == ["a", "a"]
