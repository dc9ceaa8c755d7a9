"""``sluice enqueue``: one job from arguments, or many from JSON lines (a file or stdin)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

from sluice.cli.common import EXIT_OK, add_json_flag, open_queue, print_json, read_text
from sluice.queue import new_job

# Keys of one JSON line, as Queue.enqueue's arguments.
FIELDS = ("task", "payload", "id", "priority", "delay", "timeout", "max_attempts", "after",
          "run_if_parent_fails", "concurrency_key")  # fmt: skip

EPILOG = """JSON lines: one object per line with "task" and optionally "payload", "id",
"priority" (critical, high, normal, low), "delay", "timeout" (seconds, numbers, not
strings), "max_attempts", "after" (a list of parent job ids: the job waits until each
completed), "run_if_parent_fails" (true: run even if a parent is dead-lettered or
cancelled), "concurrency_key" (at most the queue's key_concurrency of one key run at
once). A malformed line stops the command before anything is enqueued (exit 2); a full
queue exits 1. With --file, give no TASK and no per-job options: each line carries its
own."""

# The per-job options, which a JSON line carries itself.
_JOB_OPTIONS = {
    "id": "--id",
    "priority": "--priority",
    "delay": "--delay",
    "timeout": "--timeout",
    "max_attempts": "--max-attempts",
    "after": "--after",
    "run_if_parent_fails": "--run-if-parent-fails",
    "concurrency_key": "--concurrency-key",
}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "enqueue",
        parents=[common],
        help="add jobs",
        epilog=EPILOG,
        description="Enqueue one job, or JSON lines from a file ('-' for stdin). Prints ids, "
        'one a line, or with --json {"ids": [...]}.',
    )
    p.add_argument("task", nargs="?", help="task name (one job)")
    p.add_argument("payload", nargs="?", help="payload as JSON (default null)")
    p.add_argument("-f", "--file", help="JSON lines to enqueue ('-' for stdin)")
    p.add_argument("--id", help="job id (enqueueing an existing id is a no-op)")
    p.add_argument("--priority", help="critical, high, normal (default), low")
    p.add_argument("--delay", type=float, help="seconds before it may run (default 0)")
    p.add_argument("--timeout", type=float, help="seconds (default: the queue's setting)")
    p.add_argument("--max-attempts", type=int, help="attempts (default: the queue's setting)")
    p.add_argument(
        "--after",
        action="append",
        metavar="ID",
        help="a parent job: this one waits until it completed (repeat for several)",
    )
    p.add_argument(
        "--run-if-parent-fails",
        action="store_const",
        const=True,
        help="run even if a parent is dead-lettered or cancelled (default: dead-letter it)",
    )
    p.add_argument(
        "--concurrency-key",
        metavar="KEY",
        help="at most the queue's key_concurrency jobs with this key run at once",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    jobs = _from_lines(args) if args.file else [_from_args(args)]
    with open_queue(args) as queue:
        ids = queue.enqueue_many(jobs)
    if args.json:
        print_json({"ids": ids})
    else:
        for job_id in ids:
            print(job_id)
    return EXIT_OK


def _from_args(args: argparse.Namespace) -> dict[str, Any]:
    if not args.task:
        raise ValueError("give a TASK (and PAYLOAD), or --file with JSON lines")
    try:
        payload = json.loads(args.payload or "null", parse_constant=_no_constant)
    except ValueError as exc:
        raise ValueError(f"payload: not valid JSON: {exc}") from None
    job = {"task": args.task, "payload": payload}
    job |= {k: getattr(args, k) for k in _JOB_OPTIONS if getattr(args, k) is not None}
    new_job(**job)  # ValueError names the option and its range
    return job


def _from_lines(args: argparse.Namespace) -> list[dict[str, Any]]:
    given = [flag for key, flag in _JOB_OPTIONS.items() if getattr(args, key) is not None]
    if args.task or args.payload:
        given.insert(0, "TASK/PAYLOAD")
    if given:
        raise ValueError(
            f"--file: each JSON line carries its own job; do not also give {', '.join(given)}"
        )
    if args.file == "-":
        return _parse(sys.stdin)
    return _parse(read_text(args.file, "--file").splitlines())


def _parse(lines: Iterable[str]) -> list[dict[str, Any]]:
    jobs = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            jobs.append(_job(line, number))
    return jobs


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON")


def _job(line: str, number: int) -> dict[str, Any]:
    try:
        job = json.loads(line, parse_constant=_no_constant)
    except ValueError as exc:
        raise ValueError(f"line {number}: not JSON: {exc}") from None
    if not isinstance(job, dict) or not isinstance(job.get("task"), str):
        raise ValueError(f'line {number}: expected an object with a "task" string')
    unknown = set(job) - set(FIELDS)
    if unknown:
        raise ValueError(f"line {number}: unknown keys {sorted(unknown)}; allowed: {FIELDS}")
    try:
        new_job(**job)  # validate every line before the first is enqueued
    except (TypeError, ValueError) as exc:
        raise ValueError(f"line {number}: {exc}") from None
    return job
