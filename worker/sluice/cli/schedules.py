"""``sluice schedules``: the queue's cron schedules as Redis holds them, with last and next fire.

The schedules are declared in the JobQueue; the operator (or ``sluice up``)
that fires them publishes each one's definition and next fire in Redis, and
the fire script records the last fire. This command reads both, so it works
with Redis access alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
from typing import Any

from sluice.cli.common import EXIT_OK, add_json_flag, open_queue, output
from sluice.schedule_record import ScheduleRecord


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "schedules",
        parents=[common],
        help="list the queue's cron schedules",
        description="List the queue's cron schedules with their last and next fire (UTC).",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_queue(args) as queue:
        records = queue.schedules()
    output(args, [dataclasses.asdict(r) for r in records], render(records))
    return EXIT_OK


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def render(records: list[ScheduleRecord]) -> str:
    if not records:
        return "no schedules (declare them in the JobQueue's spec.schedules)"
    rows = [("NAME", "CRON", "ZONE", "TASK", "CATCH-UP", "LAST FIRE", "NEXT FIRE")]
    for r in records:
        rows.append(
            (r.name, r.cron or "-", r.time_zone or "-", r.task or "-", r.catch_up or "-",
             _when(r.last_fire), _when(r.next_fire))
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
