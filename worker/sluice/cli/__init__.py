"""The ``sluice`` command: one module per subcommand, errors mapped to exit codes.

Each module in :data:`COMMANDS` has ``register(subparsers, common)``, adding
its parser (with ``common``, the shared ``--redis-url``/``--queue`` options, as
a parent) and a ``func(args) -> int``. Adding a subcommand is one line here.
Exit codes: 0 ok, 1 the operation failed (queue full, job not found), 2 usage
or validation error, 3 Redis unreachable.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import redis.exceptions

from sluice import __version__
from sluice.cli.common import (
    EXIT_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    add_connection_options,
    fail,
)
from sluice.connection import redact
from sluice.errors import JobNotFound, QueueFull, SluiceError

COMMANDS = [
    "sluice.cli.worker",
    "sluice.cli.enqueue",
    "sluice.cli.info",
    "sluice.cli.job",
    "sluice.cli.dlq",
    "sluice.cli.up",
    "sluice.cli.load",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sluice", description="Sluice: a Redis job queue, its worker and tools."
    )
    parser.add_argument("--version", action="version", version=f"sluice {__version__}")
    add_connection_options(parser, top_level=True)
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common, top_level=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        url = redact(getattr(args, "redis_url", "") or "")
        return fail(f"cannot reach Redis at {url}: {exc}", EXIT_UNREACHABLE)
    except (QueueFull, JobNotFound) as exc:
        return fail(str(exc), EXIT_FAILED)
    except (SluiceError, ValueError) as exc:
        return fail(str(exc), EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())
