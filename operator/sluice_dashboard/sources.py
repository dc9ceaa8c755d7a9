"""Where the dashboard's queues come from: one Redis, or whoever manages many.

``sluice dashboard`` and ``sluice up`` look at one Redis: a
:class:`RedisQueues` finds its queues by scanning for their keys (or takes the
names it is given), and a queue's id is its name. The operator manages
JobQueues on many Redis servers, perhaps with the same queue name in two
namespaces: its source names each queue ``namespace/name`` and hands over a
client for that JobQueue's own endpoint. The hub only sees
:class:`QueueSource`.
"""

from __future__ import annotations

from typing import Any, Protocol

from sluice import AsyncQueue
from sluice.connection import connect
from sluice.protocol.keys import check_queue_name
from sluice.protocol.scripts import AsyncClient


class QueueSource(Protocol):
    async def ids(self) -> list[str]:
        """Every queue to show now (raises if it cannot tell)."""

    async def open(self, queue_id: str, *, listed: bool = False) -> AsyncQueue | None:
        """The queue with this id, or None when there is none.

        ``listed``: the id came from :meth:`ids` just now (no need to check it exists).
        """

    async def close(self) -> None:
        """Release what the source opened."""


class RedisQueues:
    """The queues of one Redis: the names given, else every queue found there."""

    def __init__(self, client: AsyncClient, names: tuple[str, ...] = (), *, owned: bool = False):
        self.client, self.names, self._owned = client, names, owned

    @classmethod
    def from_url(cls, url: str, names: tuple[str, ...] = (), **options: Any) -> RedisQueues:
        return cls(connect(url, async_=True, **options), names, owned=True)

    async def ids(self) -> list[str]:
        return list(self.names) if self.names else await AsyncQueue.discover(self.client)

    async def open(self, queue_id: str, *, listed: bool = False) -> AsyncQueue | None:
        try:
            queue = AsyncQueue(check_queue_name(queue_id), redis=self.client)
        except ValueError:
            return None
        if self.names:
            return queue if queue_id in self.names else None
        if listed:
            return queue
        keys = queue.keys  # a queue created since the last scan is found by name
        return queue if await self.client.exists(keys.stats, keys.config) else None

    async def close(self) -> None:
        if self._owned:
            await self.client.aclose()
