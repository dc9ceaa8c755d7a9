"""`sluice up` refuses a bad JobQueue file with the file, the field, the reason and exit 2."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from sluice.cli import main as sluice_main
from sluice.cli.common import DEFAULT_REDIS_URL
from sluice_local import up_command as up_cli

pytestmark = pytest.mark.timeout(60)

SPEC = """apiVersion: sluice.dev/v1alpha1
kind: JobQueue
metadata: {name: broken}
spec:
  worker: {image: img, tasks: "sluice.demo_tasks:tasks"}
  scaling: {minReplicas: 4, maxReplicas: 2}
"""


def sluice_up(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sluice", "up", *args],
        capture_output=True, text=True, timeout=30, check=False, cwd=cwd,
    )  # fmt: skip


def test_invalid_yaml_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: JobQueue\nspec: {worker: [unclosed\n")
    done = sluice_up("-f", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "bad.yaml: invalid YAML: line 3" in done.stderr
    assert not (tmp_path / "data").exists()


def test_invalid_spec_exits_2_naming_file_field_and_reason(tmp_path: Path) -> None:
    (tmp_path / "q.yaml").write_text(SPEC)
    done = sluice_up("-f", "q.yaml", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 2
    assert "q.yaml: spec.scaling: maxReplicas (2) must be >= minReplicas (4)" in done.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ("{leaseSeconds: .inf}", "spec.jobs.leaseSeconds: Input should be a finite number"),
        ("{resultTtlSeconds: 100000000000000000000}",
         "spec.jobs.resultTtlSeconds: Input should be less than or equal to 2592000"),
        ("{maxAttempts: 100000}",
         "spec.jobs.maxAttempts: Input should be less than or equal to 1000"),
    ],
)  # fmt: skip
def test_a_number_out_of_range_exits_2_without_a_traceback(
    tmp_path: Path, jobs: str, message: str
) -> None:
    text = SPEC.replace("  scaling: {minReplicas: 4, maxReplicas: 2}\n", f"  jobs: {jobs}\n")
    (tmp_path / "q.yaml").write_text(text)
    done = sluice_up("-f", "q.yaml", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 2
    assert f"q.yaml: {message}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_missing_file_exits_2(tmp_path: Path) -> None:
    done = sluice_up("-f", "nope.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "nope.yaml: cannot read" in done.stderr


def parse(argv: list[str]) -> argparse.Namespace:
    """The `up` subcommand as the sluice CLI registers it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    up_cli.register(parser.add_subparsers(dest="command"), argparse.ArgumentParser())
    return parser.parse_args(argv)


def test_sluice_up_reports_the_same_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "q.yaml").write_text(SPEC)
    assert sluice_main(["up", "-f", str(tmp_path / "q.yaml")]) == 2
    assert "spec.scaling: maxReplicas (2) must be >= minReplicas (4)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "env", "want"),
    [
        (["up", "-f", "q.yaml"], {}, None),  # the default URL: spec or embedded Redis
        (["--redis-url", "redis://h:1/0", "up", "-f", "q.yaml"], {}, "redis://h:1/0"),
        (["up", "-f", "q.yaml", "--redis-url", "redis://h:2/0"], {}, "redis://h:2/0"),
        (["up", "-f", "q.yaml"], {"SLUICE_REDIS_URL": DEFAULT_REDIS_URL}, DEFAULT_REDIS_URL),
    ],
)
def test_redis_url_only_when_chosen(argv: list[str], env: dict[str, str], want: str | None) -> None:
    assert up_cli.redis_url(parse(argv), env) == want
