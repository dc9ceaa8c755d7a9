"""Shared by the CLI tests: run ``sluice`` in-process against one queue, capture its output."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sluice.cli import main

CliRun = Callable[..., tuple[int, str, str]]


def cli_runner(queue: str) -> CliRun:
    """``run(capsys, redis_url, *argv)`` -> (exit code, stdout, stderr) for ``queue``."""

    def run(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--redis-url", url, "--queue", queue])
        out, err = capsys.readouterr()
        return code, out, err

    return run
