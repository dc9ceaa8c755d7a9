"""The queue protocol: Redis key layout, one Lua script per operation, and thin clients.

:class:`AsyncProtocol` is what the worker loop drives (claim, extend, finish,
reap, heartbeat, progress, wait_for_work); :class:`sluice.Queue` builds on the
same operations for producers and tools.
"""

from sluice.protocol.client import AsyncProtocol, Protocol
from sluice.protocol.keys import QueueKeys
from sluice.protocol.messages import Claimed, ClaimResult, Extended, NewJob, Outcome, OutcomeKind

__all__ = [
    "AsyncProtocol",
    "ClaimResult",
    "Claimed",
    "Extended",
    "NewJob",
    "Outcome",
    "OutcomeKind",
    "Protocol",
    "QueueKeys",
]
