"""``sluice cancel ID...``: cancel jobs; a running one is asked to stop."""

from __future__ import annotations

import argparse
from typing import Any

from sluice.cli.common import EXIT_FAILED, EXIT_OK, add_json_flag, open_queue, output
from sluice.protocol import ops
from sluice.protocol.keys import check_job_id

SAID = {
    "cancelled": "cancelled",
    "cancel_requested": "cancel requested (running: its worker stops it)",
    "not_found": "not cancelled: no such job, or it already ended",
}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "cancel",
        parents=[common],
        help="cancel jobs",
        description="Cancel jobs: a waiting or delayed job never runs; a running one is "
        "asked to stop and is recorded as cancelled. Exit 1 if any id was not cancelled "
        "(unknown, or already ended).",
    )
    p.add_argument("ids", nargs="+", metavar="ID", help="job ids")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ids = [check_job_id(i) for i in args.ids]  # all checked before the first is cancelled
    with open_queue(args) as queue:
        outcomes = {i: queue.protocol.run(ops.cancel_outcome(i)) for i in ids}
    output(args, outcomes, "\n".join(f"{i}  {SAID[outcome]}" for i, outcome in outcomes.items()))
    return EXIT_FAILED if "not_found" in outcomes.values() else EXIT_OK
