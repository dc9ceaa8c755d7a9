"""``sluice events``: the queue's lifecycle events, as they are kept or as they come."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sluice.cli.common import EXIT_OK, add_json_flag, open_queue
from sluice.cli.times import iso
from sluice.errors import EventsMissed
from sluice.events import Event, check_since
from sluice.queue import Queue


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "events",
        parents=[common],
        help="show lifecycle events",
        description="Show the queue's lifecycle events (enqueued, started, progress, retried, "
        "completed, dead_lettered, cancelled, ...): those kept, or with --follow the new ones "
        "as they happen. If events were trimmed before they were read, a warning says so on "
        "stderr and the oldest kept follow.",
    )
    p.add_argument("--follow", "-f", action="store_true", help="wait for new events (Ctrl-C ends)")
    p.add_argument("--job", help="only this job's events")
    p.add_argument(
        "--since",
        type=check_since,
        help="after this event id (default: all kept; with --follow: from now on)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    since = args.since or (None if args.follow else "0")
    with open_queue(args) as queue:
        while True:
            try:
                show(queue, since, args)
                return EXIT_OK
            except EventsMissed as exc:
                print(f"sluice: {exc}", file=sys.stderr)
                since = "0"


def show(queue: Queue, since: str | None, args: argparse.Namespace) -> None:
    if not queue.settings().events:
        print(
            f"sluice: events are off for queue {queue.name!r}; turn them on with "
            "spec.jobs.events: true (or JobSettings(events=True)); showing what is kept",
            file=sys.stderr,
        )
    for event in queue.events(since, follow=args.follow, job=args.job):
        print(json.dumps(event.as_dict()) if args.json else line(event), flush=True)


def line(event: Event) -> str:
    extra = " ".join(f"{k}={v}" for k, v in event.data.items())
    return f"{iso(event.time)}  {event.type:<16} {event.job}  {extra}".rstrip()
