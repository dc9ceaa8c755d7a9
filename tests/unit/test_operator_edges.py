"""The operator's edges without a cluster: endpoints from Secrets, pooling, deletion costs, CLI."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.stats import WorkerInfo
from sluice_operator.kube.actuator import UNREPORTED_COST, deletion_costs
from sluice_operator.main import namespaces, parse_args
from sluice_operator.policy_memory import seed_state
from sluice_scaling.spec import parse_spec
from sluice_scaling.stats_reader import job_settings, resolve_endpoint

WORKER = {"image": "img", "tasks": "app.tasks:tasks"}
SECRETS = {
    ("ns", "r", "url"): b"redis://app:hunter2@redis.internal:6379/0\n",
    ("ns", "r", "user"): b"app",
    ("ns", "r", "pw"): b"hunter2",
    ("ns", "ca", "pem"): b"-----BEGIN CERTIFICATE-----\n",
}


def read(namespace: str, name: str, key: str) -> bytes:
    return SECRETS[namespace, name, key]


def test_endpoint_from_secrets_never_shows_the_password() -> None:
    spec = parse_spec({"redis": {"urlSecretRef": {"name": "r", "key": "url"}}, "worker": WORKER})
    endpoint = resolve_endpoint("ns", spec, read)
    assert endpoint.url == "redis://app:hunter2@redis.internal:6379/0"  # trailing newline gone
    assert "hunter2" not in repr(endpoint)
    assert "hunter2" not in str(endpoint)
    assert "redis.internal:6379" in repr(endpoint)


def test_endpoint_with_acl_user_and_tls_ca() -> None:
    redis = {
        "url": "redis://redis.internal:6379/0",
        "usernameSecretRef": {"name": "r", "key": "user"},
        "passwordSecretRef": {"name": "r", "key": "pw"},
        "tls": {"enabled": True, "caSecretRef": {"name": "ca", "key": "pem"}},
    }
    endpoint = resolve_endpoint("ns", parse_spec({"redis": redis, "worker": WORKER}), read)
    assert endpoint.url.startswith("rediss://")
    assert (endpoint.username, endpoint.password) == ("app", "hunter2")
    assert endpoint.ca_pem == SECRETS["ns", "ca", "pem"]


def test_missing_secret_key_surfaces_as_an_error() -> None:
    redis = {"url": "redis://h:6379/0", "passwordSecretRef": {"name": "nope", "key": "pw"}}
    with pytest.raises(KeyError):
        resolve_endpoint("ns", parse_spec({"redis": redis, "worker": WORKER}), read)


def test_job_settings_follow_the_spec() -> None:
    jobs = {"timeoutSeconds": 42, "maxAttempts": 3, "leaseSeconds": 10, "maxQueueLength": 500,
            "backoff": {"baseSeconds": 2, "capSeconds": 60, "multiplier": 3},
            "resultTtlSeconds": 600, "deadLetterMaxLength": 50, "events": False,
            "eventsMaxLength": 500}  # fmt: skip
    spec = parse_spec({"redis": {"url": "redis://h:6379/0"}, "worker": WORKER, "jobs": jobs})
    s = job_settings(spec.jobs)
    assert (s.timeout_s, s.max_attempts, s.lease_s, s.max_length) == (42, 3, 10, 500)
    assert (s.backoff_base_s, s.backoff_cap_s, s.backoff_multiplier) == (2, 60, 3)
    assert (s.result_ttl_s, s.dead_max) == (600, 50)
    assert (s.events, s.events_max) == (False, 500)


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}}


def test_deletion_cost_is_busy_slots_and_silent_pods_go_first() -> None:
    workers = [
        WorkerInfo("a", 3, 4, 0.0),
        WorkerInfo("b", 0, 4, 0.0),
        WorkerInfo("gone", 4, 4, 0.0),
    ]
    costs = deletion_costs([pod("a"), pod("b"), pod("new")], workers)
    assert costs == {"a": 3, "b": 0, "new": UNREPORTED_COST}
    assert min(costs, key=costs.__getitem__) == "new"


def test_namespaces_from_flags_or_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_WATCH_NAMESPACES", "a, b,,")
    assert namespaces(parse_args([])) == ["a", "b"]
    assert namespaces(parse_args(["-n", "x", "-n", "team-*"])) == ["x", "team-*"]
    assert namespaces(parse_args(["--all-namespaces"])) == []
    with pytest.raises(SystemExit):
        parse_args(["-A", "-n", "x"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param({"serviceTimeSeconds": 20.5}, 20.5, id="published"),
        pytest.param({"serviceTimeSeconds": 3}, 3.0, id="integer"),
        pytest.param({}, None, id="new-queue"),
        pytest.param({"serviceTimeSeconds": 0}, None, id="zero-is-not-a-measurement"),
        pytest.param({"serviceTimeSeconds": "20"}, None, id="hand-edited-string"),
        pytest.param({"serviceTimeSeconds": True}, None, id="bool"),
    ],
)
def test_a_restart_seeds_the_policy_with_the_published_service_time(
    status: dict[str, object], expected: float | None
) -> None:
    assert seed_state(status).service_time_s == expected
