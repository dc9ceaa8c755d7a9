"""Cron schedules, decided purely: given a schedule, the last fire recorded and now, the fires due.

Whoever reconciles a queue (the operator, ``sluice up``) calls :func:`plan` on
every tick and hands the fires to :mod:`sluice_scaling.scheduler`, which
enqueues each one under :func:`fire_id` (the schedule's name and the fire
time), through a script that refuses a fire at or before the one recorded:
two reconcilers, a restart or a hand-over compute the same fires and the same
ids, and only the first enqueue of each goes through.

A fire is *on time* while ``now`` is within the grace window after it (a tick
arrives up to a polling interval late); older ones were *missed* (no reconciler
ran). Fires up to ``lead`` ahead are sent too, as delayed jobs: the autoscaler
counts delayed jobs due soon as demand, so a worker is up when the fire falls
due (and the job is claimable at its time, not at the next poll). ``Skip``
drops missed fires; ``RunLast`` runs the latest missed fire once, however many
were missed. A schedule seen for the first time starts from
now: it never fires its past.

Cron expressions are parsed and evaluated by cronsim (maintained, typed, no
dependencies, zoneinfo time zones with Debian cron's DST behaviour): five
fields, or six with seconds first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

CatchUp = Literal["Skip", "RunLast"]
MAX_FIRES_PER_TICK = 100  # a per-second schedule after a stall: bounded work per tick
MIN_GRACE_S = 10.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
        ) from exc


def check_cron(expr: str) -> str:
    """``expr`` if cronsim accepts it (5 fields, or 6 with seconds first); else ValueError."""
    fields = len(expr.split())
    if fields not in (5, 6):
        raise ValueError(f"cron expression {expr!r} has {fields} fields; want 5, or 6 with seconds")
    try:
        next(CronSim(expr, _PROBE))
    except CronSimError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from exc
    except StopIteration:
        raise ValueError(f"cron expression {expr!r} never fires") from None
    return expr


@dataclass(frozen=True)
class Cron:
    """A cron expression evaluated in a time zone; times are epoch milliseconds (UTC)."""

    expr: str
    tz: str = "UTC"

    def _at(self, ms: int) -> datetime:
        return (_EPOCH + timedelta(milliseconds=ms)).astimezone(zone(self.tz))

    def after(self, ms: int) -> Iterator[int]:
        """Fire times strictly after ``ms``, in order."""
        for dt in CronSim(self.expr, self._at(ms)):
            yield to_ms(dt)

    def latest(self, ms: int) -> int | None:
        """The last fire time at or before ``ms``."""
        # Reverse iteration is strict, unless the start has a fraction of a second:
        # then its whole second is the first candidate. One microsecond past ms does it.
        start = self._at(ms) + timedelta(microseconds=1)
        try:
            return to_ms(next(CronSim(self.expr, start, reverse=True)))
        except StopIteration:
            return None

    def next(self, ms: int) -> int | None:
        return next(self.after(ms), None)


def to_ms(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def fire_id(schedule: str, at_ms: int) -> str:
    """The job id of one fire: the same for every reconciler, readable in ``sluice job``."""
    stamp = (_EPOCH + timedelta(milliseconds=at_ms)).strftime("%Y%m%dT%H%M%SZ")
    return f"sched:{schedule}:{stamp}"


def grace_ms(polling_interval_s: float) -> int:
    """How late a fire may be and still count as on time: two polls, at least 10 s."""
    return int(max(MIN_GRACE_S, 2 * polling_interval_s) * 1000)


@dataclass(frozen=True)
class Plan:
    """What one tick does for one schedule."""

    fires: tuple[int, ...]  # fire times to enqueue, oldest first
    mark: int | None  # the new "last fire" to record (skipped fires included); None: none
    skipped: int = 0  # missed fires dropped (at least; counted up to the tick's bound)


def plan(
    cron: Cron, catch_up: CatchUp, last: int | None, now: int, grace: int, *, lead: int = 0
) -> Plan:
    """The fires to send at ``now`` after the recorded ``last``: those due, and those due
    within ``lead`` ahead (all in epoch ms)."""
    if last is None:  # first sight: start from now, fire nothing of the past
        return Plan((), now)
    if last >= now + lead:
        return Plan((), None)
    cutoff = max(last, now - grace)
    on_time: list[int] = []
    for at in cron.after(cutoff):
        if at > now + lead or len(on_time) == MAX_FIRES_PER_TICK:
            break
        on_time.append(at)
    missed = cron.latest(cutoff) if cutoff > last else None
    missed = missed if missed is not None and missed > last else None
    fires = list(on_time)
    if missed is not None and catch_up == "RunLast":
        fires.insert(0, missed)
    newest = max([*fires, missed or last])
    skipped = 1 if missed is not None and catch_up == "Skip" else 0
    return Plan(tuple(fires), newest if newest > last else None, skipped)
