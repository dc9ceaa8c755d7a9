"""``make demo``: a queue scales from zero under a spike of load, and back to zero.

It is ``sluice up`` on the packaged ``demo.yaml`` (the demo task module
shipped with Sluice, short scaling windows) with ``--exit-when-idle``, an
embedded Redis in a throwaway directory, and ``sluice load`` running in a
thread once Redis is up: a spike of ``sleep`` jobs, a short tail, then
nothing. The run ends when the queue is idle again with no workers, and
prints the summary: jobs done, peak replicas, p95 wait, replica-seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sluice.connection import connect
from sluice.loadgen import Shape, describe, payload_job, run_load
from sluice.queue import Queue

from .cli import UpOptions, make_output, up
from .manifest import ManifestError, load_manifest
from .session import RunLimits

# Shipped in the package (``manifests/examples/demo.yaml`` links here), so the
# demo runs from an installed wheel as well as from a checkout.
DEMO_MANIFEST = Path(__file__).with_name("demo.yaml")
JOB_SECONDS = 0.25
FAIL_FRACTION = 0.05
MAX_RUN_S = 300.0  # a safety net: the demo normally ends by itself in about two minutes


def demo_shape(peak: float) -> Shape:
    """Quiet, a spike at ``peak`` jobs/s for 20 s, a 20 s tail at 3 jobs/s, then nothing."""
    return Shape(((0, 0), (3, 0), (3, peak), (23, peak), (23, 3), (43, 3)))


class LoadThread:
    """``sluice load`` in a thread, started once ``sluice up`` has its Redis."""

    def __init__(self, queue: str, shape: Shape, job_seconds: float, fail: float) -> None:
        self._queue, self._shape = queue, shape
        self._job = payload_job("sleep", {"seconds": job_seconds, "fail": fail})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0

    def start(self, url: str, connect_options: Mapping[str, Any]) -> None:
        """Start sending to ``url``; ``connect_options`` carry its credentials."""
        args = (url, dict(connect_options))
        self._thread = threading.Thread(target=self._run, args=args, daemon=True)
        self._thread.start()

    def _run(self, url: str, connect_options: dict[str, Any]) -> None:
        with Queue(self._queue, redis=connect(url, **connect_options)) as queue:
            self.sent = run_load(queue, self._shape, self._job, stop=self._stop)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sluice_local.demo")
    parser.add_argument("-f", "--file", type=Path, default=DEMO_MANIFEST)
    parser.add_argument("--peak", type=float, default=100.0, help="jobs/s at the spike")
    parser.add_argument("--job-seconds", type=float, default=JOB_SECONDS)
    parser.add_argument("--fail", type=float, default=FAIL_FRACTION, help="failing share")
    parser.add_argument("--json", action="store_true", help="JSON status lines")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.file)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    shape = demo_shape(args.peak)
    load = LoadThread(manifest.queue, shape, args.job_seconds, args.fail)
    if not args.json:
        print(
            f"demo: {describe(shape)} of {args.job_seconds:g} s jobs on queue {manifest.queue!r};"
        )
        print("watch the replicas rise from zero and return to zero (about two minutes).")
    with tempfile.TemporaryDirectory(prefix="sluice-demo-") as data_dir:
        options = UpOptions(
            data_dir=Path(data_dir),
            output=make_output(args.json, sys.stdout),
            limits=RunLimits(duration_s=MAX_RUN_S, exit_when_idle=True),
        )
        try:
            return up(manifest, options, on_ready=load.start)
        finally:
            load.stop()


if __name__ == "__main__":
    sys.exit(main())
