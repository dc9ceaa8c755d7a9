"""Every number a user can give is finite and in its documented range, or refused by name.

One property over every numeric field of the Python API (enqueue arguments,
JobSettings, WorkerSettings) and the CLI flags: NaN, the infinities, zero,
negatives, 1e300 and arbitrary floats are each accepted exactly when
:mod:`sluice.limits` says they lie in range, and otherwise refused with an
error naming the field. CLI cases run ``sluice`` in-process and only for values
out of range, which fail before any connection is made (this tier is pure).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice import JobSettings, Retry, limits
from sluice.cli import main
from sluice.protocol import Claimed
from sluice.queue import new_job
from sluice.tasks import JobContext
from sluice.worker import outcomes
from sluice.worker.settings import WorkerSettings

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, -1e300, 1e300, 1e20, 0.5, 1.0]


@dataclass(frozen=True)
class Case:
    name: str  # what the error must name
    range: limits.Range
    submit: Callable[[float], Any]  # raises ValueError if refused


def _settings(field: str) -> Callable[[float], Any]:
    return lambda v: JobSettings(**{field: v})


def _worker(field: str) -> Callable[[float], Any]:
    return lambda v: WorkerSettings(**{field: v})


API = [
    Case("delay", limits.DELAY_S, lambda v: new_job("t", delay=v)),
    Case("timeout", limits.TIMEOUT_S, lambda v: new_job("t", timeout=v)),
    Case("max_attempts", limits.MAX_ATTEMPTS, lambda v: new_job("t", max_attempts=v)),
    Case("timeout_s", limits.TIMEOUT_S, _settings("timeout_s")),
    Case("max_attempts", limits.MAX_ATTEMPTS, _settings("max_attempts")),
    Case("lease_s", limits.LEASE_S, _settings("lease_s")),
    Case("backoff_base_s", limits.BACKOFF_BASE_S, _settings("backoff_base_s")),
    Case("backoff_cap_s", limits.BACKOFF_CAP_S, _settings("backoff_cap_s")),
    Case("backoff_multiplier", limits.BACKOFF_MULTIPLIER, _settings("backoff_multiplier")),
    Case("result_ttl_s", limits.RESULT_TTL_S, _settings("result_ttl_s")),
    Case("dead_max", limits.DEAD_MAX, _settings("dead_max")),
    Case("max_length", limits.MAX_LENGTH, _settings("max_length")),
    Case("concurrency", limits.CONCURRENCY, _worker("concurrency")),
    Case("shutdown_grace_seconds", limits.SHUTDOWN_GRACE_S, _worker("shutdown_grace_seconds")),
    Case("metrics_port", limits.METRICS_PORT, _worker("metrics_port")),
]

# (the name the error must carry, the range, argv with {} for the value)
CLI = [
    ("delay", limits.DELAY_S, "enqueue t --delay={}"),
    ("timeout", limits.TIMEOUT_S, "enqueue t --timeout={}"),
    ("max_attempts", limits.MAX_ATTEMPTS, "enqueue t --max-attempts={}"),
    ("--rate", limits.LOAD_RATE, "load --rate={}"),
    ("--duration", limits.LOAD_SECONDS, "load --duration={}"),
    ("--spike", limits.LOAD_RATE, "load --spike={}"),
    ("--at", limits.LOAD_SECONDS, "load --spike 5 --at={}"),
    ("--width", limits.LOAD_SECONDS, "load --spike 5 --width={}"),
    ("--steps rate", limits.LOAD_RATE, "load --steps={}:10"),
    ("--steps seconds", limits.LOAD_SECONDS, "load --steps=10:{}"),
    ("concurrency", limits.CONCURRENCY, "worker --tasks m:t --concurrency={}"),
    ("shutdown_grace_seconds", limits.SHUTDOWN_GRACE_S,
     "worker --tasks m:t --shutdown-grace-seconds={}"),
    ("metrics_port", limits.METRICS_PORT, "worker --tasks m:t --metrics-port={}"),
    ("--limit", limits.LIST_LIMIT, "dlq list --limit={}"),
    ("--offset", limits.LIST_OFFSET, "dlq list --offset={}"),
]  # fmt: skip

values = st.sampled_from(SPECIAL) | st.floats() | st.integers(-(10**20), 10**20).map(float)


def _accepts(r: limits.Range, value: float) -> bool:
    return r.contains(value) and (not r.integer or value.is_integer())


@settings(max_examples=400)
@given(st.sampled_from(API), values)
def test_the_api_refuses_out_of_range_numbers_by_name(case: Case, value: float) -> None:
    given_value: float | int = (
        int(value) if case.range.integer and _accepts(case.range, value) else value
    )
    if _accepts(case.range, value):
        case.submit(given_value)
        return
    with pytest.raises(ValueError, match=re.escape(case.name)):
        case.submit(value)


def _cli_text(value: float, integer: bool) -> str:
    if integer and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return repr(value)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(CLI), values)
def test_the_cli_refuses_out_of_range_numbers_by_name(
    capsys: pytest.CaptureFixture[str], case: tuple[str, limits.Range, str], value: float
) -> None:
    name, r, argv = case
    if _accepts(r, value):
        assert r.check(name, int(value) if r.integer else value) == value
        return
    text = _cli_text(value, r.integer)
    args = ["--redis-url", "redis://127.0.0.1:1/0", *argv.format(text).split()]
    code = main(args)
    _, err = capsys.readouterr()
    assert code == 2, err
    # argparse refuses what is not a number of the flag's type ("invalid int value");
    # everything else names the field and its range, in one line, without a traceback.
    assert name in err or "invalid int value" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ('{"task": "t", "delay": "5"}', "delay"),
        ('{"task": "t", "delay": 1e300}', "delay"),
        ('{"task": "t", "timeout": NaN}', "NaN"),
        ('{"task": "t", "timeout": -Infinity}', "Infinity"),
        ('{"task": "t", "max_attempts": 2.5}', "max_attempts"),
        ('{"task": "t", "max_attempts": true}', "max_attempts"),
        ('{"task": "t", "priority": 1.5}', "priority"),
        ('{"task": "t", "payload": {"x": NaN}}', "NaN"),
        ('{"task": "t", "id": "-x"}', "id"),
    ],
)
def test_json_lines_refuse_bad_numbers_by_name(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    line: str,
    name: str,
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(line + "\n"))
    code = main(["--redis-url", "redis://127.0.0.1:1/0", "enqueue", "-f", "-"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "line 1" in err
    assert name in err
    assert "Traceback" not in err


def test_a_nan_payload_is_refused_not_stored_as_nonstandard_json() -> None:
    with pytest.raises(ValueError, match="payload"):
        new_job("t", {"x": math.nan})


def test_any_real_number_is_taken_as_a_plain_one_but_not_a_bool_or_string() -> None:
    job = new_job("t", delay=Fraction(1, 2), max_attempts=Fraction(4, 2))
    assert (job.delay_s, job.max_attempts) == (0.5, 2)
    assert type(job.delay_s) is float
    for bad in (True, "5", b"5", None):
        with pytest.raises(ValueError, match="delay: must be a number of seconds"):
            new_job("t", delay=bad)


# --- numbers a handler gives: handled, never stored as they came -------------------------


def _claimed() -> Claimed:
    return Claimed("j", "t", b"null", 1, 5, 1.0, "7", 0.0, 0.0)


@pytest.mark.parametrize(
    ("asked", "within"),
    [(math.inf, (limits.DELAY_S.high, limits.DELAY_S.high)), (1e300, (limits.DELAY_S.high,) * 2),
     (-5.0, (0.0, 0.0)), (math.nan, (0.0, JobSettings().backoff_base_s))],
)  # fmt: skip
def test_a_handlers_retry_delay_is_held_to_the_delay_range(
    asked: float, within: tuple[float, float]
) -> None:
    outcome = outcomes.failed(_claimed(), Retry(asked), JobSettings(), 0.1)
    assert outcome.kind == "retry"
    assert within[0] <= outcome.delay_s <= within[1]


def test_a_nan_result_is_refused_not_stored() -> None:
    outcome = outcomes.done(_claimed(), {"score": math.nan}, 0.1)
    assert (outcome.kind, outcome.reason, outcome.result) == ("fail", "bad_result", None)


def test_progress_is_held_to_0_100_and_nan_dropped() -> None:
    seen: list[float] = []
    ctx = JobContext("j", "t", None, sink=lambda _c, pct, _m: seen.append(pct))
    for pct in (math.nan, -3.0, 50.0, math.inf, 1e300):
        ctx.progress(pct)
    assert seen == [0.0, 50.0, 100.0, 100.0]
