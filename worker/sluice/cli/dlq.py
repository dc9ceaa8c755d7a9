"""``sluice dlq list|requeue|purge``: the dead-letter queue."""

from __future__ import annotations

import argparse
from typing import Any

from sluice import limits
from sluice.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    add_json_flag,
    fail,
    open_queue,
    output,
    print_json,
)
from sluice.cli.job import as_dict


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "dlq",
        parents=[common],
        help="dead letters: list, requeue, purge",
        description="Inspect and act on the dead-letter queue.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", parents=[common], help="most recent dead letters first")
    ls.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    ls.add_argument("--offset", type=int, default=0)
    add_json_flag(ls)
    ls.set_defaults(func=run_list)
    rq = actions.add_parser(
        "requeue", parents=[common], help="back to the queue with attempts reset"
    )
    rq.add_argument("ids", nargs="*", metavar="ID", help="dead letters to requeue")
    rq.add_argument("--all", action="store_true", help="requeue every dead letter")
    add_json_flag(rq)
    rq.set_defaults(func=run_requeue)
    pg = actions.add_parser("purge", parents=[common], help="delete every dead letter")
    add_json_flag(pg)
    pg.set_defaults(func=run_purge)


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1][:80] if lines else ""


def run_list(args: argparse.Namespace) -> int:
    limits.LIST_LIMIT.check("--limit", args.limit)
    limits.LIST_OFFSET.check("--offset", args.offset)
    with open_queue(args) as queue:
        dead = queue.dead_letters(args.limit, args.offset)
    if args.json:
        print_json([as_dict(i) for i in dead])
        return EXIT_OK
    print(f"{'id':<24} {'task':<16} {'reason':<14} {'tries':>5}  last error")
    for i in dead:
        print(
            f"{i.id:<24} {i.task:<16} {i.dead_reason or '':<14} {i.attempts:>5}  "
            f"{_first_line(i.error)}"
        )
    return EXIT_OK


def run_requeue(args: argparse.Namespace) -> int:
    """Exit 1 when an ID is not a dead letter (the others are still requeued)."""
    if bool(args.ids) == bool(args.all):
        raise ValueError("give dead-letter IDs or --all (not both)")
    with open_queue(args) as queue:
        if args.all:
            count, missing = queue.requeue_dead(), []
        else:
            missing = [i for i in args.ids if not queue.requeue_dead(i)]
            count = len(args.ids) - len(missing)
    _report(args, "requeued", count)
    if missing:
        return fail(f"not in the dead-letter queue of {args.queue!r}: {', '.join(missing)}",
                    EXIT_FAILED)  # fmt: skip
    return EXIT_OK


def run_purge(args: argparse.Namespace) -> int:
    with open_queue(args) as queue:
        count = queue.purge_dead()
    _report(args, "purged", count)
    return EXIT_OK


def _report(args: argparse.Namespace, verb: str, count: int) -> None:
    output(args, {verb: count}, f"{verb} {count}")
