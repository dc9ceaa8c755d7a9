"""What Redis holds about a queue's cron schedules, for ``sluice schedules`` and status.

The schedules themselves are declared in the JobQueue (``spec.schedules``); the
reconciler that fires them publishes each one's definition, last and next fire
here after every change. (The fire script's own record, the time up to which a
schedule is handled, also moves on a first sight and over skipped fires.) So anyone with Redis
access sees what will run and when, without access to the Kubernetes API.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ScheduleRecord:
    """One schedule as published; times are seconds since the epoch (UTC)."""

    name: str
    cron: str
    time_zone: str
    task: str
    catch_up: str  # Skip or RunLast
    next_fire: float | None = None  # None: the expression never fires again
    last_fire: float | None = None  # None: not fired since the schedule was first seen

    def to_json(self) -> str:
        values = asdict(self)
        del values["name"]  # the hash field
        return json.dumps(values, sort_keys=True, separators=(",", ":"))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse(name: str, raw: bytes | str | None) -> ScheduleRecord:
    """A record from its published JSON (missing or unreadable: the fields stay empty)."""
    try:
        values = json.loads(raw) if raw else {}
    except ValueError:
        values = {}
    values = values if isinstance(values, dict) else {}
    return ScheduleRecord(
        name=name,
        cron=str(values.get("cron", "")),
        time_zone=str(values.get("time_zone", "")),
        task=str(values.get("task", "")),
        catch_up=str(values.get("catch_up", "")),
        next_fire=_number(values.get("next_fire")),
        last_fire=_number(values.get("last_fire")),
    )
