"""``sluice job ID``: one job's state, attempts, times, progress, result or error.

``--wait`` blocks until the job ends (woken through Redis, see
:mod:`sluice.waiting`) and exits by its outcome; ``--watch`` redraws a progress
bar on each of the job's events until it ends.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from sluice.cli import watch
from sluice.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    add_json_flag,
    open_queue,
    print_json,
    server_now,
)
from sluice.cli.times import when
from sluice.errors import JobCancelled, JobFailed, JobNotFound, WaitTimeout
from sluice.jobinfo import JobInfo
from sluice.queue import Queue
from sluice.waiting import check_timeout

# Exit codes of --wait and --watch, beyond the common ones (0 ok, 1 failed, 2 usage, 3 Redis).
EXIT_CANCELLED = 4
EXIT_TIMEOUT = 5
TIME_FIELDS = ("enqueued_at", "started_at", "finished_at", "ready_at")

EPILOG = """Exit codes: 0 the job exists (with --wait/--watch: it completed); 1 no such job,
or it failed (dead-lettered); 2 bad arguments; 3 Redis unreachable; 4 it was cancelled;
5 --timeout passed first (the job goes on)."""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "job",
        parents=[common],
        help="show one job, or wait for it",
        epilog=EPILOG,
        description="Show one job; --wait blocks until it ends, --watch shows its progress.",
    )
    p.add_argument("id", help="job id")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--wait", action="store_true", help="block until the job ends")
    how.add_argument("--watch", action="store_true", help="live progress bar until it ends")
    p.add_argument("--timeout", type=float, help="with --wait/--watch: give up after S seconds")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    timeout = check_timeout(args.timeout)
    if timeout is not None and not (args.wait or args.watch):
        raise ValueError("--timeout goes with --wait or --watch")
    with open_queue(args) as queue:
        code = EXIT_OK
        if args.wait:
            code = wait(queue, args.id, timeout)
        elif args.watch:
            code = watch.run(queue, args.id, timeout, sys.stdout)
        info = queue.get(args.id)
        now = server_now(queue)
    if info is None:
        raise JobNotFound(args.queue, args.id)
    if args.json:
        print_json(as_dict(info))
    else:
        print(render(info, now))
    return code


def wait(queue: Queue, job_id: str, timeout: float | None) -> int:
    """The exit code of the job's outcome (the job itself is shown after)."""
    try:
        queue.wait(job_id, timeout)
    except JobFailed:
        return EXIT_FAILED
    except JobCancelled:
        return EXIT_CANCELLED
    except WaitTimeout as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    return EXIT_OK


def as_dict(info: JobInfo) -> dict[str, Any]:
    values = dataclasses.asdict(info)
    values["priority"] = info.priority.name.lower()
    return values


def render(info: JobInfo, now: float) -> str:
    lines = []
    for key, value in as_dict(info).items():
        if value is None or value is False or value == ():
            continue
        if isinstance(value, tuple):  # parents, children
            text = ", ".join(value)
        else:
            text = when(value, now) if key in TIME_FIELDS else str(value)
        if "\n" in text:  # tracebacks: indented below the key
            text = "\n" + "\n".join("    " + line for line in text.splitlines())
        lines.append(f"{key:<16} {text}")
    return "\n".join(lines)
