"""What every subcommand shares: connection options, opening the queue, output, exit codes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice.connection import connect

if TYPE_CHECKING:  # imported when a command opens a queue: `sluice worker` never does
    from sluice.queue import Queue

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def add_connection_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """``--redis-url`` and ``--queue``, accepted before and after the subcommand.

    Only the top-level parser has defaults (from the environment); the copies on
    the subcommands default to "not given", so they never overwrite the former.
    """
    env = os.environ
    url = env.get("SLUICE_REDIS_URL") or DEFAULT_REDIS_URL
    queue = env.get("SLUICE_QUEUE") or "default"
    parser.add_argument(
        "--redis-url",
        default=url if top_level else argparse.SUPPRESS,
        help="Redis URL, redis://, rediss:// or unix:// (env SLUICE_REDIS_URL; credentials "
        "may come from SLUICE_REDIS_USERNAME / SLUICE_REDIS_PASSWORD; "
        "SLUICE_REDIS_CLUSTER=true for a Redis Cluster, the URL naming any node)",
    )
    parser.add_argument(
        "--queue",
        default=queue if top_level else argparse.SUPPRESS,
        help="queue name (env SLUICE_QUEUE; default 'default')",
    )


def _flag(environ: dict[str, str] | os._Environ[str], name: str) -> bool:
    return environ.get(name, "").lower() in ("1", "true", "yes")


def redis_options(environ: dict[str, str] | os._Environ[str] = os.environ) -> dict[str, Any]:
    """Credentials, TLS and cluster mode from the environment, as ``connect`` takes them."""
    return {
        "username": environ.get("SLUICE_REDIS_USERNAME") or None,
        "password": environ.get("SLUICE_REDIS_PASSWORD") or None,
        "tls_ca_file": environ.get("SLUICE_REDIS_TLS_CA_FILE") or None,
        "tls_insecure": _flag(environ, "SLUICE_REDIS_TLS_INSECURE"),
        "cluster": _flag(environ, "SLUICE_REDIS_CLUSTER"),
    }


@contextmanager
def open_queue(args: argparse.Namespace) -> Iterator[Queue]:
    """The queue named by ``--queue`` on ``--redis-url``; the client is closed after."""
    client = connect(args.redis_url, **redis_options())
    try:
        from sluice.queue import Queue  # noqa: PLC0415  (see the TYPE_CHECKING import)

        yield Queue(args.queue, client)
    finally:
        client.close()


def read_text(path: str | Path, flag: str) -> str:
    """A file the user named, or ValueError (exit 2) saying which flag and why."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"{flag}: cannot read {str(path)!r}: {reason}") from None


def server_now(queue: Queue) -> float:
    """Redis time (seconds): job times are Redis time, so "3 s ago" is too."""
    seconds, micros = queue.client.time()
    return float(seconds) + float(micros) / 1e6


def fail(message: str, code: int) -> int:
    print(f"sluice: {message}", file=sys.stderr)
    return code


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def output(args: argparse.Namespace, value: Any, text: str) -> None:
    """``value`` as JSON with ``--json``, else ``text``: every command offers both."""
    if args.json:
        print_json(value)
    else:
        print(text)
