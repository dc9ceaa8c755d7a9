"""What ``sluice worker`` loads before its first claim, and how it refuses bad settings.

Every autoscaled pod pays for its imports before it claims a job. pydantic
(with pydantic-core and annotated-types) once cost about a fifth of that; the
worker's settings are plain dataclasses now, and this test keeps it so: a real
worker process, started as a pod starts it, claims a waiting job whose handler
reports the modules loaded by then.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from sluice import Queue

Q = "startup"
# Libraries the start-up path must not load: the settings models' old library, the
# metrics library (loaded at the first scrape) and the operator's packages.
NOT_AT_START = {
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_inspection",
    "prometheus_client",
    "sluice_scaling",
    "sluice_operator",
    "sluice_local",
    "kopf",
    "kubernetes",
}


def _env(redis_url: str, **extra: str) -> dict[str, str]:
    here = str(Path(__file__).parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "SLUICE_REDIS_URL": redis_url, **extra}


def test_the_worker_claims_its_first_job_without_loading_pydantic(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    job = Queue(Q, client).enqueue("loaded", None)
    argv = [sys.executable, "-m", "sluice", "worker", "--queue", Q, "--tasks",
            "startup_tasks:tasks"]  # fmt: skip
    worker = subprocess.Popen(argv, env=_env(redis_url), stderr=subprocess.PIPE, text=True)
    try:
        loaded = set(job.result(timeout=60))  # a guard against a hang, not a speed goal
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=60)
        client.close()
    assert worker.returncode == 0, err
    assert "sluice" in loaded  # the report is real
    assert not loaded & NOT_AT_START, sorted(loaded & NOT_AT_START)


def test_bad_settings_from_the_environment_exit_2_naming_each_field(redis_url: str) -> None:
    env = _env(
        redis_url,
        SLUICE_CONCURRENCY="0",
        SLUICE_ISOLATION="fork",
        SLUICE_METRICS_PORT="many",
        SLUICE_REDIS_PASSWORD="s3cret-value",
    )
    argv = [sys.executable, "-m", "sluice", "worker", "--queue", Q, "--tasks",
            "startup_tasks:tasks"]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line, no traceback
    assert "concurrency: must be a whole number of jobs >= 1" in lines[0]
    assert "isolation: must be one of thread, process, got 'fork'" in lines[0]
    assert "metrics_port: must be a whole number >= 0 and <= 65535, got 'many'" in lines[0]
    assert "s3cret-value" not in done.stderr
