"""The JobQueue status as a typed model: the CRD's status schema is generated from it.

The operator builds status as plain dicts (:mod:`sluice_operator.jobqueue_status`);
this model declares every field it may write, with its type and description,
because the API server prunes what the schema does not declare and refuses a
whole patch when one value has the wrong type. It is a schema, not a parser:
nothing validates status through it at run time.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, use_attribute_docstrings=True
    )


class LastDecision(_Model):
    """The latest scaling decision, whether or not it changed the count."""

    term: str | None = None
    """The term that set the count, e.g. arrival, backlog, age, idle, fallback or paused."""
    reason: str | None = None
    """The decision in one sentence, with its numbers."""


class Condition(_Model):
    """A condition in the standard Kubernetes shape (metav1.Condition)."""

    type: str = Field(max_length=316)
    """Condition type, e.g. Ready."""
    status: Literal["True", "False", "Unknown"]
    """True, False or Unknown."""
    reason: str | None = Field(default=None, max_length=1024)
    """One CamelCase word for the condition's last transition."""
    message: str | None = Field(default=None, max_length=32768)
    """A human-readable explanation."""
    last_transition_time: datetime.datetime | None = None
    """When the status last changed."""
    observed_generation: int | None = Field(
        default=None, ge=0, json_schema_extra={"format": "int64"}
    )
    """The metadata.generation the condition was set for."""


class ScheduleStatus(_Model):
    """One cron schedule's fires, as recorded in Redis."""

    name: str
    """The schedule's name (spec.schedules[].name)."""
    last_fire_time: datetime.datetime | None = None
    """The latest fire enqueued (or skipped as missed); unset before the first."""
    next_fire_time: datetime.datetime | None = None
    """When the schedule fires next; unset when it never fires again."""


class WindowEntry(_Model):
    """One recommendation of the scale-down stabilisation window."""

    time: datetime.datetime | None = None
    """When the recommendation was made."""
    replicas: int | None = Field(default=None, ge=0)
    """The replicas recommended then."""


class PolicyMemory(_Model):
    """The autoscaler's memory, so that an operator that restarts or takes over continues."""

    window: list[WindowEntry] | None = None
    """The scale-down window as its running maxima (each larger than every later one)."""
    last_active_time: datetime.datetime | None = None
    """When a job last waited, ran or arrived (the idle clock)."""


class JobQueueStatus(_Model):
    """What the operator observed and decided; written only by the operator."""

    observed_generation: int | None = Field(default=None, json_schema_extra={"format": "int64"})
    """The metadata.generation of the spec this status reflects."""
    replicas: int | None = None
    """Worker replicas the Deployment has now."""
    ready_replicas: int | None = None
    """Worker replicas that are ready."""
    desired_replicas: int | None = None
    """Worker replicas the last scaling decision asked for."""
    backlog: int | None = None
    """Jobs waiting to be claimed (ready plus due delayed)."""
    in_flight: int | None = None
    """Jobs running on a worker."""
    delayed: int | None = None
    """Jobs scheduled for later (retries in backoff and delayed jobs)."""
    dead: int | None = None
    """Jobs in the dead-letter queue."""
    blocked: int | None = None
    """Jobs waiting for their parents (enqueued after others): not backlog."""
    oldest_age_seconds: int | None = None
    """Whole seconds the longest-waiting job has waited; 0 when nothing waits."""
    arrival_rate: float | None = None
    """Jobs enqueued per second, measured over recent polls."""
    service_time_seconds: float | None = None
    """Recent mean seconds a job runs."""
    workers: int | None = None
    """Workers with a live heartbeat in Redis."""
    last_scale_time: datetime.datetime | None = None
    """When the replica count was last changed."""
    last_scale_reason: str | None = None
    """Why the replica count was last changed."""
    last_decision: LastDecision | None = None
    schedules: list[ScheduleStatus] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The cron schedules' last and next fire times."""
    policy: PolicyMemory | None = None
    conditions: list[Condition] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, MetricsAvailable, ScalingLimited, Saturated, Paused and PollingOnTime."""
    kopf: dict[str, Any] | None = None
    """The Kopf framework's handler progress (fallback storage)."""


def field_names(model: type[BaseModel]) -> tuple[str, ...]:
    """The model's fields as the API spells them (camelCase), in order."""
    return tuple(info.alias or name for name, info in model.model_fields.items())
