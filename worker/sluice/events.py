"""Lifecycle events: what the queue's stream ``q:{name}:events`` holds, and reading it.

The Lua script that changes a job's state also appends its event (see
``protocol/lua/_lib.lua``), so the stream and the jobs never disagree. The
stream is bounded (``XTRIM MAXLEN ~ events_max``, once per script call): a
reader that falls behind the bound is told so
(:class:`sluice.errors.EventsMissed`) rather than silently skipping. Reading
is ``events.lua`` (read after an id and check for a gap, atomically), then,
when a follower has read everything, an ``XREAD BLOCK`` used only as a
wake-up: the next read goes through the script again, so a gap can never slip
in between. :class:`Reader` is that state machine; the sync and async twins in
:mod:`sluice.queue` do the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sluice.errors import EventsMissed
from sluice.protocol import ops
from sluice.protocol.keys import QueueKeys

# Event types, in a job's life. A job's own scripts write them (see docs/protocol.md).
TYPES = (
    "enqueued", "started", "progress", "retried", "released", "lease_expired",
    "cancel_requested", "completed", "dead_lettered", "cancelled", "requeued", "unblocked",
)  # fmt: skip
# Fields that are numbers on the wire (everything else stays text).
_INTS = ("attempt", "delay_ms")
_FLOATS = ("progress",)
_ID = re.compile(r"\d{1,20}(-\d{1,20})?")
BATCH = 500  # entries per read
MAX_BLOCK_S = 5.0  # a follower's longest XREAD BLOCK (below the socket timeout)


@dataclass(frozen=True)
class Event:
    """One lifecycle event. ``id`` is the stream entry's: resume after it with ``since=id``."""

    id: str
    type: str
    job: str
    time: float  # Redis time (seconds since the epoch), from the entry id
    data: dict[str, str | int | float] = field(default_factory=dict)  # the type's fields

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "job": self.job, "time": self.time, **self.data}


def check_since(since: str) -> str:
    """A stream id (``1732871234567-0``, or ``0`` for the oldest kept)."""
    if not _ID.fullmatch(since):
        raise ValueError(f"since must be an event id like 1732871234567-0 (or 0), got {since!r}")
    return since


def latest(reply: Any) -> str:
    """The id to read after for "from now on", from ``XREVRANGE events + - COUNT 1``."""
    return _text(reply[0][0]) if reply else "0-0"


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _value(name: str, raw: str) -> str | int | float:
    try:
        if name in _INTS:
            return int(float(raw))
        if name in _FLOATS:
            return float(raw)
    except ValueError:
        pass
    return raw


def parse(entry_id: bytes | str, fields: Mapping[Any, Any] | list[Any]) -> Event:
    """An :class:`Event` from one stream entry (a field mapping or a flat list)."""
    if not isinstance(fields, Mapping):
        fields = dict(zip(fields[::2], fields[1::2], strict=True))
    values = {_text(k): _text(v) for k, v in fields.items()}
    kind, job = values.pop("type", "unknown"), values.pop("job", "")
    eid = _text(entry_id)
    data = {k: _value(k, v) for k, v in values.items() if v != ""}
    return Event(eid, kind, job, int(eid.split("-")[0]) / 1000, data)


class Reader:
    """Where an event reader stands: the last id it passed on, and its filter."""

    def __init__(
        self,
        keys: QueueKeys,
        since: str,
        *,
        job: str | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.keys = keys
        self.since = check_since(since)
        self.job = job
        self.block_s = MAX_BLOCK_S if read_timeout is None else min(MAX_BLOCK_S, read_timeout / 2)
        self.full = False

    def read(self) -> ops.Call[ops.EventBatch]:
        return ops.read_events(self.since, BATCH)

    def take(self, batch: ops.EventBatch) -> list[Event]:
        """The batch's events for this reader (raises if it missed some); advances ``since``."""
        if batch.missed:
            raise EventsMissed(self.keys.queue, self.since, batch.oldest)
        events = [parse(i, f) for i, f in batch.entries]
        self.full = len(events) >= BATCH  # more may be there already: read again at once
        if events:
            self.since = events[-1].id
        return [e for e in events if self.job is None or e.job == self.job]

    def xread_args(self) -> tuple[dict[Any, Any], int]:
        return {self.keys.events: self.since}, max(1, round(self.block_s * 1000))
