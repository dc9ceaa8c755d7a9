"""``sluice worker``: run jobs of one queue until SIGTERM/SIGINT, then drain."""

from __future__ import annotations

import argparse
import os
from typing import Any

from sluice.cli.common import EXIT_OK
from sluice.worker.serve import serve
from sluice.worker.settings import WorkerSettings

HELP = """Every option may also come from the environment: SLUICE_<OPTION> (e.g.
SLUICE_CONCURRENCY, SLUICE_WORKER_ID); an option given here wins. Redis credentials
and TLS: SLUICE_REDIS_USERNAME, SLUICE_REDIS_PASSWORD, SLUICE_REDIS_TLS_CA_FILE,
SLUICE_REDIS_TLS_INSECURE. Job timeouts, attempts, backoff and the lease come from
the queue's settings in Redis."""

# flag -> (WorkerSettings field, type, help)
_FLAGS: dict[str, tuple[str, Any, str]] = {
    "--tasks": ("tasks", str, "task registry, pkg.module:attr (a sluice.Tasks)"),
    "--concurrency": ("concurrency", int, "jobs at once (default 10)"),
    "--worker-id": ("worker_id", str, "id in heartbeats (default hostname:pid)"),
    "--isolation": (
        "isolation",
        str,
        "thread (default) or process: sync jobs in child processes, killed on timeout",
    ),
    "--shutdown-grace-seconds": (
        "shutdown_grace_seconds",
        float,
        "on SIGTERM, time for in-flight jobs (default 25)",
    ),
    "--max-jobs": (
        "max_jobs",
        int,
        "exit (code 0) once this many jobs have run; the supervisor starts a fresh worker",
    ),
    "--max-jobs-per-child": (
        "max_jobs_per_child",
        int,
        "with --isolation process: replace a child after this many jobs",
    ),
    "--max-child-memory": (
        "max_child_memory_mb",
        int,
        "with --isolation process: replace a child whose peak RSS passed this many MB after a job",
    ),
    "--metrics-port": ("metrics_port", int, "serve /metrics, /healthz, /readyz (0 = off)"),
    "--metrics-host": (
        "metrics_host",
        str,
        "address for --metrics-port (default 0.0.0.0; sluice up uses 127.0.0.1)",
    ),
    "--log-level": ("log_level", str, "DEBUG, INFO (default), WARNING or ERROR"),
    "--log-format": ("log_format", str, "text (default) or json"),
}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "worker",
        parents=[common],
        help="run jobs from a queue",
        description="Run jobs from a queue until SIGTERM/SIGINT, then drain.",
        epilog=HELP,
    )
    for flag, (dest, kind, text) in _FLAGS.items():
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    flags = {dest: getattr(args, dest) for dest, _, _ in _FLAGS.values()}
    # The top-level defaults already fold in SLUICE_REDIS_URL / SLUICE_QUEUE.
    flags |= {"redis_url": args.redis_url, "queue": args.queue}
    serve(WorkerSettings.load(flags, os.environ))
    return EXIT_OK
