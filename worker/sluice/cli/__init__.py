"""The ``sluice`` command: one module per subcommand, errors mapped to exit codes.

Each module in :data:`COMMANDS` has ``register(subparsers, common)``, adding
its parser (with ``common``, the shared ``--redis-url``/``--queue`` options, as
a parent) and a ``func(args) -> int``. Adding a subcommand is one line here.
Commands that need more than the queue library (``sluice up``, the dashboard)
live in their own packages and register a ``register`` function in the
``sluice.commands`` entry-point group: this package never imports them, so the
worker image needs none of their dependencies.
A built-in command named on the command line gets a parser with only its own
subcommand: ``sluice worker`` is what every autoscaled pod runs, and scanning the
installed packages' entry points and importing every other command would add a
tenth of a second or more to each scale-up before the first claim.
Exit codes: 0 ok, 1 the operation failed (queue full, job not found), 2 usage
or validation error, 3 Redis unreachable.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

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
from sluice.errors import JobNotFound, QueueFull, RedisUnavailable, SluiceError
from sluice.outages import describe, refusal

if TYPE_CHECKING:
    from pydantic import ValidationError

# Built-in command name -> its module.
BUILTINS = {
    name: f"sluice.cli.{name}"
    for name in ("worker", "enqueue", "info", "job", "cancel", "events", "dlq", "load", "schedules")
}
COMMANDS = list(BUILTINS.values())
# Top-level options that take a value (the next word is not the command).
_VALUED = ("--redis-url", "--queue")


def command_in(argv: Sequence[str]) -> str | None:
    """The built-in command ``argv`` names, or None (a plugin command, help, a typo)."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return word if word in BUILTINS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; or, when ``argv`` names a built-in command, one with only that."""
    parser = argparse.ArgumentParser(
        prog="sluice", description="Sluice: a Redis job queue, its worker and tools."
    )
    parser.add_argument("--version", action="version", version=f"sluice {__version__}")
    add_connection_options(parser, top_level=True)
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common, top_level=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    only = command_in(argv) if argv is not None else None
    if only is not None:
        importlib.import_module(BUILTINS[only]).register(sub, common)
        return parser
    for name in COMMANDS:
        importlib.import_module(name).register(sub, common)
    for register in plugin_commands():
        register(sub, common)
    return parser


PLUGIN_GROUP = "sluice.commands"


def plugin_commands() -> Iterator[Callable[[Any, argparse.ArgumentParser], None]]:
    """The ``register`` functions other packages declare in :data:`PLUGIN_GROUP`, by name.

    A checkout with an editable install sees its metadata twice (the venv's and
    the ``*.egg-info`` beside the sources): the first of each name wins.
    """
    from importlib.metadata import entry_points  # noqa: PLC0415  (only when scanning)

    seen: dict[str, Callable[[Any, argparse.ArgumentParser], None]] = {}
    for point in entry_points(group=PLUGIN_GROUP):
        if point.name not in seen:
            seen[point.name] = point.load()
    yield from (seen[name] for name in sorted(seen))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except (redis.exceptions.RedisError, SluiceError, ValueError) as exc:
        return exit_for(exc, redact(getattr(args, "redis_url", "") or ""))


def exit_for(exc: Exception, url: str) -> int:
    """Say what went wrong, in a line, and return the exit code for it."""
    if isinstance(exc, RedisUnavailable):
        return fail(str(exc), EXIT_UNREACHABLE)
    if isinstance(exc, redis.exceptions.RedisError):
        return redis_failed(exc, url)
    if isinstance(exc, QueueFull | JobNotFound):
        return fail(str(exc), EXIT_FAILED)
    if _pydantic_error(exc):  # a plugin's model (the JobQueue spec): one line per field
        return fail(validation_message(exc), EXIT_USAGE)
    return fail(str(exc), EXIT_USAGE)


def redis_failed(exc: BaseException, url: str) -> int:
    """Exit 3 when Redis is away, refuses us or is not Redis; 1 for an error reply."""
    why = refusal(exc)
    if why is not None:
        return fail(f"{why} (at {url})", EXIT_UNREACHABLE)
    if isinstance(exc, redis.exceptions.InvalidResponse):
        return fail(
            f"the server at {url} does not speak the Redis protocol ({exc}): "
            "check the host and port",
            EXIT_UNREACHABLE,
        )
    if isinstance(exc, redis.exceptions.ResponseError):
        return fail(f"Redis at {url} answered with an error: {exc}", EXIT_FAILED)
    return fail(f"cannot reach Redis at {url}: {describe(exc)}", EXIT_UNREACHABLE)


def _pydantic_error(exc: Exception) -> TypeGuard[ValidationError]:
    """A pydantic ValidationError, asked without importing pydantic (``sluice worker`` never
    does: its settings are plain dataclasses, and their errors are ValueErrors)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


def validation_message(exc: ValidationError) -> str:
    """``field: reason (got value)`` per problem; values of secret fields are not shown."""
    lines = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "value"
        shown = "" if _secret(field) else f" (got {err.get('input')!r})"
        lines.append(f"{field}: {err['msg']}{shown}")
    return "; ".join(lines)


def _secret(field: str) -> bool:
    return any(word in field for word in ("password", "url", "username"))


if __name__ == "__main__":
    sys.exit(main())
