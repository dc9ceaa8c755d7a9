"""The JobQueue spec model: defaults, and errors that name the field and the reason."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from sluice_scaling.spec import SpecError, parse_spec

MINIMAL: dict[str, Any] = {
    "redis": {"url": "redis://redis:6379/0"},
    "worker": {"image": "registry.example/app:1.0", "tasks": "app.tasks:tasks"},
}


CRON = {"name": "nightly", "cron": "0 3 * * *", "task": "report"}


def with_(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL with one dotted path set to ``value``."""
    spec: dict[str, Any] = {k: dict(v) for k, v in MINIMAL.items()}
    *parents, leaf = path.split(".")
    node = spec
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return spec


def test_minimal_spec_gets_defaults() -> None:
    spec = parse_spec(MINIMAL)
    assert spec.scaling.min_replicas == 0
    scaling = spec.scaling
    assert (scaling.scale_up.max_step, scaling.scale_up.percent) == (10, 900)
    assert (scaling.scale_down.max_step, scaling.scale_down.percent) == (4, 50)
    assert scaling.idle_seconds_before_zero is None  # zero when a cold start keeps the target
    assert (scaling.saturation.enabled, scaling.saturation.retry_seconds) == (True, 300.0)
    assert spec.worker.concurrency == 10
    assert spec.jobs.timeout_seconds < spec.worker.termination_grace_period_seconds
    assert spec.delete_policy == "Retain"


# (id, dotted path set on MINIMAL, value, field named in the error, words of the reason)
INVALID: list[tuple[str, str, Any, str, str]] = [
    ("negative-max", "scaling.maxReplicas", -1, "spec.scaling.maxReplicas",
     "greater than or equal to 0"),
    ("min-above-max", "scaling", {"minReplicas": 5, "maxReplicas": 2}, "spec.scaling",
     "must be >= minReplicas"),
    ("password-in-url", "redis.url", "redis://:hunter2@redis:6379", "spec.redis",
     "must not carry a password"),
    ("two-redis-sources", "redis.urlSecretRef", {"name": "r", "key": "url"}, "spec.redis",
     "exactly one of url or urlSecretRef"),
    ("bad-tasks-ref", "worker.tasks", "not a module", "spec.worker.tasks", "should match pattern"),
    ("timeout-over-grace", "jobs.timeoutSeconds", 400, "spec",
     "must be below worker.terminationGracePeriodSeconds"),
    ("typo", "scaling.pollingIntervalSecs", 5, "spec.scaling.pollingIntervalSecs", "Extra inputs"),
    ("list-index-in-path", "worker.env", [{"name": "A"}, 3], "spec.worker.env[1]",
     "valid dictionary"),
    # What the CRD's patterns let through is caught here (and by the operator).
    ("cron-out-of-range", "schedules", [{**CRON, "cron": "61 * * * *"}],
     "spec.schedules[0].cron", "invalid cron expression '61 * * * *': Bad minute"),
    ("cron-never", "schedules", [{**CRON, "cron": "0 0 31 2 *"}],
     "spec.schedules[0].cron", "Bad day-of-month"),
    ("unknown-zone", "schedules", [{**CRON, "timeZone": "Mars/Olympus"}],
     "spec.schedules[0].timeZone", "unknown time zone 'Mars/Olympus'"),
    ("schedule-twice", "schedules", [CRON, CRON], "spec.schedules",
     "schedule names must be unique; repeated: nightly"),
    ("child-limit-with-threads", "worker.maxJobsPerChild", 10, "spec.worker",
     "need isolation: process"),
    ("max-jobs-zero", "worker.maxJobs", 0, "spec.worker.maxJobs", "greater than or equal to 1"),
    ("rate-zero", "jobs.rateLimit", {"jobs": 0}, "spec.jobs.rateLimit.jobs",
     "greater than or equal to 1"),
    ("rate-nan", "jobs.rateLimit", {"jobs": 5, "periodSeconds": float("nan")},
     "spec.jobs.rateLimit.periodSeconds", "finite number"),
    ("rate-inf", "jobs.rateLimit", {"jobs": 5, "periodSeconds": float("inf")},
     "spec.jobs.rateLimit.periodSeconds", ""),
    ("scale-up-percent-negative", "scaling.scaleUp.percent", -1, "spec.scaling.scaleUp.percent",
     "greater than or equal to 0"),
    ("scale-down-percent-above-100", "scaling.scaleDown.percent", 101,
     "spec.scaling.scaleDown.percent", "less than or equal to 100"),
    ("retry-too-short", "scaling.saturation.retrySeconds", 5,
     "spec.scaling.saturation.retrySeconds", "greater than or equal to 30"),
    ("idle-floor-negative", "scaling.idleSecondsBeforeZero", -1,
     "spec.scaling.idleSecondsBeforeZero", "greater than or equal to 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [pytest.param(*case[1:], id=case[0]) for case in INVALID],
)
def test_invalid_spec_names_field_and_reason(
    path: str, value: Any, field: str, reason: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(with_(path, value))
    assert any(p.startswith(f"{field}:") and reason in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_password_never_echoed_in_error() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(with_("redis.url", "redis://user:s3cret-value@redis:6379"))
    assert "s3cret-value" not in str(caught.value)


def test_types_are_strict_like_the_crd() -> None:
    """ "10" is not 10: the API server refuses it, so local mode must too."""
    with pytest.raises(SpecError) as caught:
        parse_spec(with_("worker.concurrency", "10"))
    assert caught.value.problems[0].startswith("spec.worker.concurrency:")


def test_read_only_mappings_are_accepted() -> None:
    """Kopf hands the spec over as a Mapping view, not a dict."""
    view = MappingProxyType({k: MappingProxyType(v) for k, v in MINIMAL.items()})
    assert parse_spec(view).worker.tasks == "app.tasks:tasks"
