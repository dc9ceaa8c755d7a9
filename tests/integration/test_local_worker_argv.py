"""Local mode starts workers with the `sluice` CLI of its own interpreter (a real child process)."""

from __future__ import annotations

import subprocess
import sys

from sluice_local.cli import default_worker_argv


def test_default_worker_argv_runs_the_sluice_cli_of_this_interpreter() -> None:
    argv = default_worker_argv()
    assert argv[0] == sys.executable
    assert argv[-1] == "worker"
    done = subprocess.run(
        [*argv, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "--concurrency" in done.stdout
