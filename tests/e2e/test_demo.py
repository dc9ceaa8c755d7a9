"""`make demo` end to end: the README's first command runs every job it sends, from zero and back.

The demo's load runs in a thread of its own against the embedded Redis, which
requires a password: this test is what notices when the load cannot get in
(the demo would then idle until its 300 s safety net and report no jobs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sluice_local.demo import demo_shape

PEAK = 20.0  # jobs/s at the spike: a smaller run than the default, the same shape


@pytest.mark.slow
@pytest.mark.timeout(420)  # the demo's own safety net is 300 s
def test_the_demo_runs_every_job_it_sends_and_returns_to_zero(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sluice_local.demo", "--json", "--peak", str(PEAK), "--fail", "0"],
        capture_output=True, text=True, timeout=400, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    summary = lines[-1]
    assert summary["type"] == "summary"
    shape = demo_shape(PEAK)
    sent = round(shape.total(shape.duration))
    assert summary["jobs_done"] == sent, summary
    assert summary["jobs_failed"] == 0
    assert summary["peak_replicas"] >= 1
    last = [line for line in lines if line["type"] == "status"][-1]
    assert last["replicas"]["running"] == 0  # back to zero once the queue went idle
    assert "Traceback" not in done.stderr
