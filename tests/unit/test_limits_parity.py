"""One set of ranges: the JobQueue spec, JobSettings and sluice.limits agree field by field.

The operator writes ``spec.jobs`` into the queue's JobSettings; a spec the API
server and the model accept must never be refused (or read as a default) there.
"""

from __future__ import annotations

from typing import Any

import pytest
from annotated_types import Ge, Gt, Le
from pydantic import BaseModel

from sluice import JobSettings, limits
from sluice.settings_fields import rules
from sluice_scaling.spec import BackoffSpec, JobsSpec

# (spec model, spec field, JobSettings field, range)
PAIRS = [
    (JobsSpec, "timeout_seconds", "timeout_s", limits.TIMEOUT_S),
    (JobsSpec, "max_attempts", "max_attempts", limits.MAX_ATTEMPTS),
    (JobsSpec, "lease_seconds", "lease_s", limits.LEASE_S),
    (JobsSpec, "result_ttl_seconds", "result_ttl_s", limits.RESULT_TTL_S),
    (JobsSpec, "dead_letter_max_length", "dead_max", limits.DEAD_MAX),
    (JobsSpec, "max_queue_length", "max_length", limits.MAX_LENGTH),
    (JobsSpec, "events_max_length", "events_max", limits.EVENTS_MAX),
    (BackoffSpec, "base_seconds", "backoff_base_s", limits.BACKOFF_BASE_S),
    (BackoffSpec, "cap_seconds", "backoff_cap_s", limits.BACKOFF_CAP_S),
    (BackoffSpec, "multiplier", "backoff_multiplier", limits.BACKOFF_MULTIPLIER),
]


def bounds(model: type[BaseModel], field: str) -> tuple[tuple[str, Any], Any]:
    """``(("gt"|"ge", low), high)`` from a pydantic field's constraints."""
    low: tuple[str, Any] | None = None
    high = None
    for item in model.model_fields[field].metadata:
        if isinstance(item, Gt):
            low = ("gt", item.gt)
        elif isinstance(item, Ge):
            low = ("ge", item.ge)
        elif isinstance(item, Le):
            high = item.le
    assert low is not None
    return low, high


@pytest.mark.parametrize(("model", "spec_field", "setting", "r"), PAIRS)
def test_the_spec_and_the_settings_share_one_range(
    model: type[BaseModel], spec_field: str, setting: str, r: limits.Range
) -> None:
    expected = (("gt" if r.low_open else "ge", r.low), r.high)
    assert bounds(model, spec_field) == expected
    assert rules(JobSettings)[setting].range is r
