"""The web dashboard served by the operator, for every JobQueue it manages, with its decisions.

Each JobQueue shows as ``namespace/name``, read through an asyncio client for
its own Redis endpoint (credentials from its Secrets, as the scaling loop
resolved them; clients pooled per endpoint like the loop's). The server runs on
Kopf's event loop: the hub's reads are asyncio, so it holds no thread.
Pausing from the page patches ``spec.scaling.paused`` on the JobQueue, as
``kubectl patch`` would, so the change is visible, audited and reverted the
same way as any other spec edit; actions need a bearer token (from a Secret).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sluice import AsyncQueue
from sluice_dashboard.control import NotManaged
from sluice_scaling.endpoint import queue_name

if TYPE_CHECKING:
    from .handlers import Key, Operator


PATCH_WAIT_S = 30.0  # above the API client's own timeout


def queue_id(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def key_of(queue_id: str) -> Key | None:
    namespace, _, name = queue_id.partition("/")
    return (namespace, name) if namespace and name else None


class OperatorQueues:
    """The dashboard's :class:`~sluice_dashboard.sources.QueueSource`: the managed JobQueues."""

    def __init__(self, operator: Operator) -> None:
        self.operator = operator

    async def ids(self) -> list[str]:
        return sorted(queue_id(key) for key in self.operator.scalers)

    async def open(self, queue_id: str, *, listed: bool = False) -> AsyncQueue | None:
        key = key_of(queue_id)
        scaler = self.operator.scalers.get(key) if key else None
        endpoint = scaler.reader.endpoint if scaler else None
        if scaler is None or endpoint is None:  # unknown, or its first tick is still to come
            return None
        client = self.operator.pool.client(endpoint)  # the scaling loops' own asyncio clients
        return AsyncQueue(queue_name(scaler.name, scaler.spec), redis=client)

    async def close(self) -> None:
        """Nothing of its own: the operator closes the shared pool once Kopf has stopped."""


class OperatorScalingControl:
    """Pause and resume by patching the JobQueue's ``spec.scaling.paused``.

    The dashboard calls it from a worker thread; the patch itself goes out on the
    operator's event loop, where its API client lives.
    """

    def __init__(self, operator: Operator, loop: asyncio.AbstractEventLoop) -> None:
        self.operator = operator
        self.loop = loop

    def paused(self, queue_id: str) -> bool | None:
        key = key_of(queue_id)
        scaler = self.operator.scalers.get(key) if key else None
        return scaler.spec.scaling.paused if scaler else None

    def set_paused(self, queue_id: str, paused: bool) -> None:
        key = key_of(queue_id)
        if key is None or key not in self.operator.scalers:
            raise NotManaged(queue_id)
        patch = self.operator.api.patch_spec(*key, {"scaling": {"paused": paused}})
        asyncio.run_coroutine_threadsafe(patch, self.loop).result(PATCH_WAIT_S)
