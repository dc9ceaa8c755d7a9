"""The peer harness stops an install step that overruns its time box (a real child process)."""

from __future__ import annotations

import sys

import pytest
from benchmarks.peers import venvs


def test_an_install_step_that_overruns_its_time_box_is_stopped_with_a_reason() -> None:
    lines: list[str] = []
    slow = [sys.executable, "-c", "print('Collecting x', flush=True); import time; time.sleep(30)"]
    with pytest.raises(venvs.InstallError, match="timed out"):
        venvs._run(slow, 0.5, lines.append, "peer")
    assert lines == ["[peer]   Collecting x"]
