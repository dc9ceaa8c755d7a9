"""Pure parts of the worker: settings from env and flags, outcome decisions, prefetch, tasks."""

from __future__ import annotations

import dataclasses
import os
import socket

import pytest

from sluice import Fail, JobSettings, Retry
from sluice.protocol import Claimed
from sluice.settings_fields import SettingsError
from sluice.tasks import JobContext, Tasks, TasksNotFound, load_tasks
from sluice.worker import WorkerSettings
from sluice.worker import outcomes as oc
from sluice.worker.prefetch import AHEAD_S, Prefetch


def test_settings_from_env_with_flags_on_top() -> None:
    env = {
        "SLUICE_QUEUE": "images",
        "SLUICE_CONCURRENCY": "32",
        "SLUICE_ISOLATION": "process",
        "SLUICE_REDIS_PASSWORD": "s3cret",
        "SLUICE_REDIS_TLS_INSECURE": "true",
        "SLUICE_REDIS_CLUSTER": "true",
        "SLUICE_WORKER_ID": "pod-abc",
        "SLUICE_LOG_LEVEL": "debug",
        "SLUICE_METRICS_PORT": "",
    }
    s = WorkerSettings.load({"concurrency": 4, "tasks": None}, env)
    assert (s.queue, s.concurrency, s.isolation, s.worker_id) == ("images", 4, "process", "pod-abc")
    assert (s.log_level, s.metrics_port, s.redis_tls_insecure) == ("DEBUG", 0, True)
    assert s.redis_options()["password"] == "s3cret"
    assert s.redis_options()["cluster"] is True
    assert "s3cret" not in repr(s)  # a secret, never in logs


def test_worker_id_defaults_to_host_and_pid() -> None:
    assert WorkerSettings.load({}, {}).worker_id == f"{socket.gethostname()}:{os.getpid()}"


@pytest.mark.parametrize(
    "env", [{"SLUICE_CONCURRENCY": "0"}, {"SLUICE_ISOLATION": "fork"}, {"SLUICE_QUEUE": "a b"}]
)
def test_invalid_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        WorkerSettings.load({}, env)


def test_environment_text_is_read_as_numbers_and_yes_no_words() -> None:
    env = {
        "SLUICE_CONCURRENCY": " 32.0 ",
        "SLUICE_SHUTDOWN_GRACE_SECONDS": "2.5e1",
        "SLUICE_REDIS_CLUSTER": "yes",
        "SLUICE_REDIS_TLS_INSECURE": "Off",
        "SLUICE_MAX_JOBS": "1_000",
    }
    s = WorkerSettings.load({}, env)
    assert (s.concurrency, s.shutdown_grace_seconds, s.max_jobs) == (32, 25.0, 1000)
    assert (s.redis_cluster, s.redis_tls_insecure) == (True, False)
    assert type(s.concurrency) is int
    assert type(s.shutdown_grace_seconds) is float


def test_a_flag_wins_over_a_bad_environment_value() -> None:
    assert WorkerSettings.load({"concurrency": 4}, {"SLUICE_CONCURRENCY": "lots"}).concurrency == 4


def test_every_bad_setting_is_named_at_once_and_no_secret_is_shown() -> None:
    env = {"SLUICE_METRICS_PORT": "x", "SLUICE_REDIS_TLS_INSECURE": "maybe"}
    flags = {"concurrency": 0, "redis_password": 12345, "bogus": 1, "log_level": "trace"}
    with pytest.raises(SettingsError) as err:
        WorkerSettings.load(flags, env)
    assert sorted(p.partition(":")[0] for p in err.value.problems) == [
        "bogus",
        "concurrency",
        "log_level",
        "metrics_port",
        "redis_password",
        "redis_tls_insecure",
    ]
    assert "bogus: no such setting" in str(err.value)
    assert "must be one of DEBUG, INFO, WARNING, ERROR, got 'TRACE'" in str(err.value)
    assert "12345" not in str(err.value)  # a credential's value is never echoed


def test_child_limits_need_process_isolation() -> None:
    with pytest.raises(SettingsError, match="max_child_memory_mb: child limits need isolation"):
        WorkerSettings(max_child_memory_mb=100)
    assert WorkerSettings(isolation="process", max_child_memory_mb=100).max_child_memory_mb == 100


def test_job_settings_take_python_values_not_text() -> None:
    assert JobSettings(timeout_s=5).timeout_s == 5.0
    assert type(JobSettings(timeout_s=5).timeout_s) is float
    assert JobSettings(max_attempts=2.0).max_attempts == 2
    for bad in ({"timeout_s": "5"}, {"events": 1}, {"max_attempts": None}, {"dead_max": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            JobSettings(**bad)
    with pytest.raises(TypeError):
        JobSettings(nonsense=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="lease_s"):
        dataclasses.replace(JobSettings(), lease_s=0)


def job(attempt: int = 1) -> Claimed:
    return Claimed("j", "t", b"null", attempt, 5, 1.0, "7", 0.0, 0.0)


def test_outcome_decisions() -> None:
    settings = JobSettings(backoff_base_s=1, backoff_multiplier=2, backoff_cap_s=3)
    assert oc.done(job(), {"a": 1}, 0.5).result == b'{"a":1}'
    assert (oc.done(job(), {1}, 0.5).kind, oc.done(job(), {1}, 0.5).reason) == (
        "fail",
        "bad_result",
    )
    fail = oc.failed(job(), Fail("no"), settings, 0.1)
    assert (fail.kind, fail.reason) == ("fail", "no")
    retry = oc.failed(job(), Retry(delay=7), settings, 0.1)
    assert (retry.kind, retry.delay_s) == ("retry", 7)
    backoff = [oc.failed(job(4), Retry(), settings, 0).delay_s for _ in range(50)]
    assert all(0 <= d <= 3 for d in backoff)  # capped full jitter
    assert len(set(backoff)) > 1
    timeout = oc.failed(job(), oc.JobTimeout(1.0), settings, 1.0)
    assert (timeout.kind, timeout.reason, timeout.error) == (
        "retry",
        "timeout",
        "timed out after 1s",
    )
    crash = oc.failed(job(), KeyError("k"), settings, 0)
    assert crash.reason is None
    assert "KeyError" in (crash.error or "")
    assert oc.release(job()).kind == "release"


def test_prefetch_only_for_short_jobs() -> None:
    p = Prefetch(limit=10, slots=2)
    assert p.room(free_slots=3) == 3  # nothing known yet: no claiming ahead
    p.observe(AHEAD_S / 100)
    assert p.room(free_slots=0) == 10
    for n in range(4):
        p.push(Claimed(f"j{n}", "t", b"", 1, 1, 1.0, "1", 0.0, 0.0))
    assert p.room(free_slots=0) == 6
    assert p.low()  # 4 held of 10: the next claim is due
    assert [j.id for j in p.remove(["j1", "zz"])] == ["j1"]
    assert dict(p.leases()) == {"j0": "1", "j2": "1", "j3": "1"}
    for _ in range(50):
        p.observe(1.0)  # jobs got long
    assert not p.active
    assert p.room(free_slots=2) == -1
    assert not p.low()  # no target: a claim only once the buffer is empty
    assert [j.id for j in p.take_all()] == ["j0", "j2", "j3"]
    assert len(p) == 0


@pytest.mark.parametrize(
    ("mean_s", "slots", "held"),
    [(0.001, 10, 50), (0.01, 10, 50), (0.02, 10, 25), (0.1, 10, 5), (0.5, 10, 1), (1.0, 10, 0),
     (0.1, 100, 50), (0.5, 2, 0)],
)  # fmt: skip
def test_prefetch_holds_about_ahead_s_of_work(mean_s: float, slots: int, held: int) -> None:
    """No cliff: the amount held falls smoothly as jobs get longer (AHEAD_S of work)."""
    p = Prefetch(limit=50, slots=slots)
    p.observe(mean_s)
    assert p.target == held
    assert p.target * mean_s / slots <= AHEAD_S + 1e-9  # the last one waits AHEAD_S at most


def test_tasks_registry() -> None:
    tasks = Tasks()

    @tasks.task
    def plain(ctx: JobContext) -> None: ...

    @tasks.task("named")
    async def other(ctx: JobContext) -> None: ...

    assert tasks.names() == ["named", "plain"]
    assert tasks.get("named").is_async  # type: ignore[union-attr]
    assert not tasks.get("plain").is_async  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="twice"):
        tasks.add("plain", plain)
    ctx = JobContext("id", "plain", {"x": 1})
    ctx.progress(50)  # outside a worker: accepted and dropped
    assert not ctx.cancelled
    ctx.cancel()
    assert ctx.cancelled


@pytest.mark.parametrize("ref", ["nocolon", "no_such_mod_xyz:tasks", "sluice:Queue"])
def test_load_tasks_explains_a_bad_reference(ref: str) -> None:
    with pytest.raises(TasksNotFound):
        load_tasks(ref)
