"""Every number in a JobQueue spec is finite and within a documented range, or refused by name.

A property test walks every numeric field of the model (the same walk the CRD
generator makes) and feeds it NaN, infinities, zero, negatives, 1e300 and
arbitrary numbers: each value is either refused with a problem that names the
field, or accepted only inside the field's bounds. The CRD carries the same
bounds, so the API server refuses them too (tests/crd checks admission).
"""

from __future__ import annotations

import math
import types
from typing import Any, Union, get_args, get_origin

import annotated_types as at
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from sluice_scaling.spec import JobQueueSpec, SpecError, parse_spec

MINIMAL: dict[str, Any] = {
    "redis": {"url": "redis://redis:6379/0"},
    "worker": {"image": "registry.example/app:1.0", "tasks": "app.tasks:tasks"},
}


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        [inner] = [a for a in get_args(annotation) if a is not type(None)]
        return inner
    return annotation


def _numeric_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type, dict]]:
    """(dotted camelCase path, int or float, bounds) of every number in the spec."""
    out: list[tuple[str, type, dict[str, float]]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        kind = _unwrap(info.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out += _numeric_fields(kind, f"{path}.")
        elif kind in (int, float):
            bounds: dict[str, float] = {}
            for meta in info.metadata:
                for key in ("ge", "gt", "le", "lt"):
                    if isinstance(meta, getattr(at, key.title())):
                        bounds[key] = getattr(meta, key)
            out.append((path, kind, bounds))
    return out


NUMERIC = _numeric_fields(JobQueueSpec)
PATHS = [path for path, _, _ in NUMERIC]


# Groups with a required number: the other one is set to a valid value beside it.
REQUIRED_BESIDE = {"jobs.rateLimit": {"jobs": 10}}


def _with(path: str, value: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {k: dict(v) for k, v in MINIMAL.items()}
    group, _, _ = path.rpartition(".")
    if group in REQUIRED_BESIDE:
        spec["jobs"] = {"rateLimit": dict(REQUIRED_BESIDE[group])}
    *parents, leaf = path.split(".")
    node = spec
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return spec


def _names(problem: str, path: str) -> bool:
    """The problem is the field's, or a cross-field rule above it that names the field."""
    where, _, reason = problem.partition(": ")
    full = f"spec.{path}"
    leaf = path.rsplit(".", maxsplit=1)[-1]
    return where == full or (full.startswith(f"{where}.") and leaf in reason)


def _inside(value: float, bounds: dict[str, float]) -> bool:
    return (
        math.isfinite(value)
        and value >= bounds.get("ge", -math.inf)
        and value > bounds.get("gt", -math.inf)
        and value <= bounds.get("le", math.inf)
        and value < bounds.get("lt", math.inf)
    )


def test_the_walk_finds_every_number() -> None:
    assert len(NUMERIC) >= 25
    assert {"jobs.leaseSeconds", "jobs.resultTtlSeconds", "scaling.maxReplicas"} <= set(PATHS)


@pytest.mark.parametrize(("path", "kind", "bounds"), NUMERIC, ids=PATHS)
def test_every_number_has_a_finite_documented_range(path: str, kind: type, bounds: dict) -> None:
    assert "le" in bounds or "lt" in bounds, f"spec.{path} has no upper bound"
    assert "ge" in bounds or "gt" in bounds, f"spec.{path} has no lower bound"


EDGES = [math.nan, math.inf, -math.inf, 0, 0.0, -1, -1e300, 1e300, 10**20, 1e20, 100000]


@settings(max_examples=400, deadline=None)
@given(
    field=st.sampled_from(NUMERIC),
    value=st.one_of(
        st.sampled_from(EDGES),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**30), max_value=10**30),
    ),
)
def test_a_number_is_refused_by_name_or_lies_in_range(
    field: tuple[str, type, dict[str, float]], value: float
) -> None:
    path, _, bounds = field
    try:
        parsed = parse_spec(_with(path, value))
    except SpecError as exc:
        problems = exc.problems
    else:
        problems = []
    if problems:
        assert any(_names(problem, path) for problem in problems), (path, value, problems)
        return
    got = parsed.model_dump(by_alias=True)
    for part in path.split("."):
        got = got[part]
    assert _inside(float(got), bounds), (path, value)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("jobs.leaseSeconds", math.inf, "finite number"),
        ("jobs.timeoutSeconds", math.nan, "finite number"),
        ("jobs.resultTtlSeconds", 10**20, "less than or equal to 2592000"),
        ("jobs.maxAttempts", 100000, "less than or equal to 1000"),
        ("scaling.latencyTargetSeconds", 1e300, "less than or equal to 86400"),
        ("scaling.maxReplicas", 10**9, "less than or equal to 10000"),
    ],
)
def test_the_reported_cases_name_the_field_and_the_reason(
    path: str, value: float, reason: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(_with(path, value))
    assert any(p.startswith(f"spec.{path}:") and reason in p for p in caught.value.problems), (
        caught.value.problems
    )
