"""The JobQueue CustomResourceDefinition, as data made from the models.

Names come from :mod:`sluice_scaling.resource`, the spec schema from
:class:`sluice_scaling.spec.JobQueueSpec`, the status schema from
:class:`~sluice_operator.crd.status_schema.JobQueueStatus`; what is left here
is what belongs to the CRD alone: the envelope of the object, the ``kubectl
get`` columns and the status subresource. ``scripts/gen_crd.py`` writes the
result to ``crds/`` and the chart, and a test fails when either has drifted.
"""

from __future__ import annotations

from typing import Any

from sluice_scaling import resource
from sluice_scaling.spec import JobQueueSpec

from .schema import Schema, structural_schema
from .status_schema import JobQueueStatus

# `kubectl get jobqueues`: the on-call view (what waits, what runs, how many workers).
PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Backlog", "type": "integer", "jsonPath": ".status.backlog",
     "description": "Jobs waiting to be claimed (ready plus due delayed)."},
    {"name": "In-Flight", "type": "integer", "jsonPath": ".status.inFlight",
     "description": "Jobs running on a worker."},
    {"name": "Oldest", "type": "integer", "jsonPath": ".status.oldestAgeSeconds",
     "description": "Seconds the longest-waiting job has waited."},
    {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas",
     "description": "Worker replicas the Deployment has now."},
    {"name": "Desired", "type": "integer", "jsonPath": ".status.desiredReplicas",
     "description": "Worker replicas the last scaling decision asked for."},
    {"name": "Ready", "type": "string",
     "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
     "description": "The Ready condition."},
    {"name": "Reason", "type": "string", "priority": 1, "jsonPath": ".status.lastDecision.reason",
     "description": "Why the last decision chose its replica count."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)  # fmt: skip

ROOT_DESCRIPTION = (
    "JobQueue declares a Redis-backed job queue and the workers that drain it. The operator"
    " creates the worker Deployment and moves its replica count with the queue's backlog,"
    " arrival rate, service time and oldest wait."
)


def root_schema() -> Schema:
    """The whole object's schema: the Kubernetes envelope around spec and status."""
    return {
        "type": "object",
        "description": ROOT_DESCRIPTION,
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion defines the versioned schema of this representation"
                " of an object.",
            },
            "kind": {
                "type": "string",
                "description": "Kind is a string value representing the REST resource this"
                " object represents.",
            },
            "metadata": {"type": "object"},  # ObjectMeta: the API server knows its schema
            "spec": structural_schema(JobQueueSpec),
            "status": structural_schema(JobQueueStatus),
        },
    }


def custom_resource_definition() -> dict[str, Any]:
    """The CRD object, ready to dump as YAML."""
    version = {
        "name": resource.VERSION,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": [dict(c) for c in PRINTER_COLUMNS],
        "schema": {"openAPIV3Schema": root_schema()},
    }
    names = {
        "kind": resource.KIND,
        "listKind": f"{resource.KIND}List",
        "plural": resource.PLURAL,
        "singular": resource.SINGULAR,
        "shortNames": list(resource.SHORT_NAMES),
        "categories": list(resource.CATEGORIES),
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": resource.CRD_NAME,
            "labels": {"app.kubernetes.io/name": "sluice", "app.kubernetes.io/component": "crd"},
        },
        "spec": {
            "group": resource.GROUP,
            "scope": "Namespaced",
            "names": names,
            "versions": [version],
        },
    }
