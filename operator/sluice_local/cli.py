"""``sluice up -f jobqueue.yaml``: run a JobQueue on this machine.

Wiring only: the manifest (validated by the operator's spec model), a Redis
(given, or embedded with its data kept), the queue's job settings written
from ``spec.jobs``, then the operator's own
:class:`~sluice_scaling.reconcile.Reconciler` with the process actuator, run
by a :class:`~sluice_local.session.Session` under a view.

The flags are defined by :mod:`sluice_local.up_command`, so ``sluice up`` and
``python -m sluice_local.cli`` take the same ones. Exit codes follow
the ``sluice`` CLI: 0 done, 1 failed (data directory in
use), 2 invalid manifest or usage, 3 Redis unreachable or not startable,
130 when a second Ctrl-C killed the workers instead of draining them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TextIO

import redis

from sluice import Queue
from sluice import limits as limits_of
from sluice.cli.common import redis_options
from sluice.connection import connect, redact
from sluice.errors import SluiceError
from sluice_dashboard.settings import LOOPBACK_HOSTS
from sluice_local.redis_server import RedisServerError
from sluice_scaling.reconcile import Reconciler, describe_error
from sluice_scaling.scheduler import Scheduler
from sluice_scaling.stats_reader import QueueReader, job_settings

from . import up_command as up_flags
from .dashboard import DashboardOptions, LocalDashboard
from .embedded_redis import (
    PASSWORD_ENV,
    PASSWORD_FILE,
    DataDirBusy,
    LocalRedis,
    choose_url,
    default_data_dir,
)
from .manifest import Manifest, ManifestError, load_manifest
from .processes import ProcessActuator
from .session import RunLimits, Session
from .view import JsonView, LiveView, PlainView, View

DRAIN_MARGIN_S = 5  # the worker stops its jobs this long before it would be killed
Output = Literal["live", "plain", "json"]


def default_worker_argv() -> list[str]:
    """``sluice worker`` run by this very interpreter (so the venv and its packages match)."""
    if importlib.util.find_spec("sluice.__main__") is not None:
        return [sys.executable, "-m", "sluice", "worker"]
    return [
        sys.executable,
        "-c",
        "import sys; from sluice.cli import main; sys.exit(main())",
        "worker",
    ]


@dataclass(frozen=True)
class UpOptions:
    redis_url: str | None = None
    data_dir: Path | None = None
    output: Output = "live"
    limits: RunLimits = field(default_factory=RunLimits)
    worker_argv: Sequence[str] = field(default_factory=default_worker_argv)
    dashboard: DashboardOptions | None = None


def make_output(json_lines: bool, out: TextIO) -> Output:
    """JSON when asked; the live panel on a terminal; plain lines into pipes and logs."""
    if json_lines:
        return "json"
    return "live" if out.isatty() else "plain"


def options_from(args: argparse.Namespace, out: TextIO = sys.stdout) -> UpOptions:
    output = make_output(args.json, out)
    if args.duration is not None:
        limits_of.RUN_SECONDS.check("--duration", args.duration)
    limits = RunLimits(duration_s=args.duration, exit_when_idle=args.exit_when_idle)
    return UpOptions(
        up_flags.redis_url(args), args.data_dir, output, limits, dashboard=dashboard_options(args)
    )


def dashboard_options(args: argparse.Namespace) -> DashboardOptions | None:
    """The ``--dashboard*`` flags; a ValueError names the one that is wrong."""
    port = getattr(args, "dashboard", None)
    if port is None:
        return None
    if not 0 <= port <= 65535:
        raise ValueError(f"--dashboard: {port} is not a port number")
    host = args.dashboard_host
    if args.dashboard_allow_actions and host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"--dashboard-allow-actions: only on a loopback address, not {host} "
            "(local mode has no token; use `sluice dashboard --token-file` for that)"
        )
    return DashboardOptions(port, host, args.dashboard_allow_actions, args.dashboard_show_payloads)


def run(args: argparse.Namespace) -> int:
    """Entry point for ``sluice up``."""
    try:
        manifest = load_manifest(args.file)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        options = options_from(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return up(manifest, options)


# Called once Redis and the loop are set, with the URL and the options ``connect`` needs
# for it (the embedded server's password travels there, never inside the URL).
OnReady = Callable[[str, Mapping[str, Any]], None]


def up(manifest: Manifest, options: UpOptions, on_ready: OnReady | None = None) -> int:
    """Run ``manifest`` until stopped; ``on_ready(url, connect_options)`` runs once it is set."""
    data_dir = options.data_dir or default_data_dir(manifest.queue)
    if manifest.spec.redis.cluster and choose_url(options.redis_url, manifest.redis_url) is None:
        print(
            "error: spec.redis.cluster is set but no Redis URL is given: the embedded Redis"
            " is a single server; pass --redis-url with a node of the cluster",
            file=sys.stderr,
        )
        return 2
    try:
        with LocalRedis(data_dir, flag_url=options.redis_url, spec_url=manifest.redis_url) as lr:
            return _serve(manifest, options, lr, data_dir, on_ready)
    except DataDirBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RedisServerError as exc:
        print(f"error: cannot start the embedded Redis: {exc}", file=sys.stderr)
        return 3


def worker_env(
    manifest: Manifest,
    redis_url: str,
    base: Mapping[str, str] = os.environ,
    password: str | None = None,
) -> dict[str, str]:
    """The worker processes' environment: ours, Sluice's settings, then ``spec.worker.env``.

    ``password`` is the embedded Redis's: it goes in the environment, not the URL, which
    ``sluice worker`` logs (redacted) and ``ps`` would show.
    """
    w = manifest.spec.worker
    env = {
        **base,
        "SLUICE_QUEUE": manifest.queue,
        "SLUICE_TASKS": w.tasks,
        "SLUICE_CONCURRENCY": str(w.concurrency),
        "SLUICE_REDIS_URL": redis_url,
        "SLUICE_ISOLATION": w.isolation,
        "SLUICE_SHUTDOWN_GRACE_SECONDS": str(_worker_grace(manifest)),
        "SLUICE_METRICS_PORT": "0",  # many replicas on one host: no fixed port to share
        **w.recycling_env(),
        # A port set in spec.worker.env serves this machine only, not the network.
        "SLUICE_METRICS_HOST": "127.0.0.1",
    }
    if password is not None:
        env["SLUICE_REDIS_PASSWORD"] = password
    if manifest.spec.redis.cluster:
        env["SLUICE_REDIS_CLUSTER"] = "true"
    # Like a pod spec, later entries win; valueFrom needs a cluster and is skipped.
    env.update({e["name"]: str(e["value"]) for e in w.env if "name" in e and "value" in e})
    return env


def _worker_grace(manifest: Manifest) -> int:
    return max(1, manifest.spec.worker.termination_grace_period_seconds - DRAIN_MARGIN_S)


def _serve(
    manifest: Manifest,
    options: UpOptions,
    local: LocalRedis,
    data_dir: Path,
    on_ready: OnReady | None,
) -> int:
    # A given URL: credentials and TLS from SLUICE_REDIS_* as for every sluice command.
    given: dict[str, Any] = (
        redis_options() if local.source != "embedded" else {"password": local.password}
    )
    given["cluster"] = manifest.spec.redis.cluster
    queue = Queue(manifest.queue, redis=connect(local.url, **given))
    try:
        queue.configure(job_settings(manifest.spec.jobs))
    except (redis.RedisError, SluiceError, OSError) as exc:
        print(f"error: Redis at {redact(local.url)}: {describe_error(exc)}", file=sys.stderr)
        return 3
    actuator = ProcessActuator(
        options.worker_argv,
        worker_env(manifest, local.url, password=local.password),
        log_dir=_fresh_logs(data_dir / "logs"),
        grace_s=manifest.spec.worker.termination_grace_period_seconds,
    )
    horizon = manifest.spec.scaling.prescale_horizon_seconds
    reader = QueueReader(queue, on_read=lambda s: actuator.observe(s.workers), horizon_s=horizon)
    reconciler = Reconciler(manifest.spec, reader, actuator)
    view = make_view(options.output, f"{redact(local.url)}, {local.source}")
    view.message(_hello(manifest, local, data_dir))
    try:
        board = _start_dashboard(
            options.dashboard, manifest, local.url, reconciler, view, password=local.password
        )
    except OSError as exc:  # the port is taken, or the address is not ours
        print(f"error: --dashboard: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        view.close()
        queue.close()
        return 1
    scheduler = Scheduler.for_spec(manifest.spec)
    session = Session(
        reconciler, reader, actuator, view, options.limits, revive=local.revive,
        on_tick=board.record if board is not None else None,
        fire_schedules=functools.partial(scheduler.tick, queue),
    )  # fmt: skip
    try:
        ready = None if on_ready is None else functools.partial(_call_ready, on_ready, given)
        return _drive(session, actuator, view, ready, local.url)
    finally:
        if board is not None:
            board.stop()
        view.close()
        queue.close()


def _start_dashboard(
    options: DashboardOptions | None,
    manifest: Manifest,
    url: str,
    reconciler: Reconciler,
    view: View,
    *,
    password: str | None,
) -> LocalDashboard | None:
    if options is None:
        return None
    board = LocalDashboard(
        options, url, reconciler, manifest.queue, cluster=manifest.spec.redis.cluster,
        password=password,
    )  # fmt: skip
    where = board.start()
    view.message(f"dashboard: {where.url}")
    return board


def _call_ready(on_ready: OnReady, connect_options: Mapping[str, Any], url: str) -> None:
    on_ready(url, connect_options)


def _drive(
    session: Session,
    actuator: ProcessActuator,
    view: View,
    on_ready: Callable[[str], None] | None,
    url: str,
) -> int:
    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            if on_ready is not None:
                on_ready(url)
            session.run(stop)
        except KeyboardInterrupt:  # a second signal before the loop saw the first
            actuator.kill_all()
            raise
        except Exception:  # whatever went wrong, no worker is left behind
            actuator.shutdown()
            raise
        try:
            summary = session.finish()
        except KeyboardInterrupt:  # a second Ctrl-C while draining
            actuator.kill_all()
            view.message("workers killed; their jobs go back to the queue as leases expire")
            return 130
    view.summary(summary)
    return 0


def make_view(output: Output, redis_label: str, out: TextIO = sys.stdout) -> View:
    if output == "json":
        return JsonView(out)
    if output == "plain":
        return PlainView(out)
    return LiveView(redis_label)


def _hello(manifest: Manifest, local: LocalRedis, data_dir: Path) -> str:
    url = redact(local.url)
    secret = ""
    if local.source == "embedded" and not os.environ.get(PASSWORD_ENV):
        secret = f'{PASSWORD_ENV}="$(cat {data_dir / PASSWORD_FILE})" '
    return (
        f"queue {manifest.queue!r} on {url} ({local.source}); worker logs in {data_dir / 'logs'}\n"
        f"enqueue: {secret}sluice load --redis-url {url} --queue {manifest.queue} --rate 20"
    )


def _fresh_logs(log_dir: Path) -> Path:
    """The worker log directory, emptied of an earlier run's logs."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink(missing_ok=True)
    return log_dir


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP: the first drains, a second interrupts (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; a caller elsewhere sets ``stop``
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal closed
    previous = {s: signal.signal(s, handle) for s in stops}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sluice_local.cli``: the same as ``sluice up``."""
    parser = argparse.ArgumentParser(prog="sluice up", description=__doc__.splitlines()[0])
    up_flags.add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
