"""`sluice up` wiring that needs no processes: worker environment, output choice, argv."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sluice_local.cli import UpOptions, main, make_output, up, worker_env
from sluice_local.manifest import parse_manifest

SPEC = """
apiVersion: sluice.dev/v1alpha1
kind: JobQueue
metadata: {name: thumbs}
spec:
  queueName: thumbs-v2
  worker:
    image: img
    tasks: "app.tasks:tasks"
    concurrency: 7
    isolation: process
    terminationGracePeriodSeconds: 60
    env:
      - {name: APP_MODE, value: fast}
      - {name: SLUICE_LOG_LEVEL, value: debug}
      - {name: FROM_SECRET, valueFrom: {secretKeyRef: {name: s, key: k}}}
  jobs: {timeoutSeconds: 30}
"""


def test_worker_env_carries_the_spec_and_user_entries_win() -> None:
    env = worker_env(parse_manifest(SPEC), "redis://127.0.0.1:7000/0", {"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert env["SLUICE_QUEUE"] == "thumbs-v2"
    assert env["SLUICE_TASKS"] == "app.tasks:tasks"
    assert env["SLUICE_CONCURRENCY"] == "7"
    assert env["SLUICE_ISOLATION"] == "process"
    assert env["SLUICE_REDIS_URL"] == "redis://127.0.0.1:7000/0"
    assert env["SLUICE_METRICS_PORT"] == "0"
    assert 0 < float(env["SLUICE_SHUTDOWN_GRACE_SECONDS"]) < 60  # drains before the kill
    assert env["APP_MODE"] == "fast"
    assert env["SLUICE_LOG_LEVEL"] == "debug"
    assert "FROM_SECRET" not in env


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_output_follows_the_terminal() -> None:
    assert make_output(True, Tty()) == "json"
    assert make_output(False, Tty()) == "live"
    assert make_output(False, io.StringIO()) == "plain"


# A URL from a Secret, as in a cluster: local mode cannot read it.
CLUSTER_SPEC = SPEC.replace(
    "  queueName: thumbs-v2\n",
    "  queueName: thumbs-v2\n  redis: {urlSecretRef: {name: r, key: url}, cluster: true}\n",
)


def test_cluster_mode_reaches_the_workers() -> None:
    assert "SLUICE_REDIS_CLUSTER" not in worker_env(parse_manifest(SPEC), "redis://h:1/0", {})
    env = worker_env(parse_manifest(CLUSTER_SPEC), "redis://h:1/0", {})
    assert env["SLUICE_REDIS_CLUSTER"] == "true"


def test_cluster_mode_without_a_url_is_refused_before_starting_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert up(parse_manifest(CLUSTER_SPEC), UpOptions(data_dir=tmp_path)) == 2
    assert "pass --redis-url with a node of the cluster" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no embedded Redis was started


def test_workers_get_the_embedded_password_and_metrics_on_loopback() -> None:
    env = worker_env(parse_manifest(SPEC), "redis://127.0.0.1:7000/0", {}, password="pw")
    assert env["SLUICE_REDIS_PASSWORD"] == "pw"
    assert "pw" not in env["SLUICE_REDIS_URL"]
    assert env["SLUICE_METRICS_HOST"] == "127.0.0.1"
    assert "SLUICE_REDIS_PASSWORD" not in worker_env(parse_manifest(SPEC), "redis://h:1/0", {})


@pytest.mark.parametrize("duration", ["nan", "inf", "-1", "0", "1e300"])
def test_a_duration_out_of_range_is_refused_by_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, duration: str
) -> None:
    spec = tmp_path / "q.yaml"
    spec.write_text(SPEC)
    assert main(["-f", str(spec), "--duration", duration, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--duration: must be a number of seconds > 0" in err
    assert "Traceback" not in err
