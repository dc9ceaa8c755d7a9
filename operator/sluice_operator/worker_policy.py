"""Which worker pods the operator agrees to create for a JobQueue.

The operator holds more rights than a user who may only create JobQueues, and
``worker.podTemplate`` is merged into the pods it creates: without a check,
that user could have the operator run a pod with ``hostPath: /``, the host's
PID or network namespace, or a privileged root sidecar (a confused deputy).
So by default the rendered worker pod must meet the restricted Pod Security
Standard (:mod:`sluice_operator.pod_security`), and a JobQueue asking for
more is refused with each field named under ``spec.worker.podTemplate``.
``sluice-operator --allow-privileged-workers`` lifts the check for clusters
that need such workers; creating a JobQueue is then like creating a
privileged Deployment, and the docs say so.
"""

from __future__ import annotations

from sluice_scaling.spec import JobQueueSpec, SpecError

from .deployment import render_deployment
from .pod_security import violations

REASON = "ForbiddenPodTemplate"  # the condition's and the event's reason
PREFIX = "spec.worker.podTemplate.spec"


class ForbiddenPodTemplate(SpecError):
    """A valid spec whose worker pods would break the restricted Pod Security Standard."""

    reason = REASON


def pod_template_problems(spec: JobQueueSpec) -> list[str]:
    """Each field of the rendered worker pod the restricted standard refuses, by its spec path."""
    manifest = render_deployment("check", "check", spec, uid="check")
    found = violations(manifest["spec"]["template"]["spec"])
    return [f"{PREFIX}.{v.path}: {v.reason} (restricted Pod Security Standard)" for v in found]


def check_pod_template(spec: JobQueueSpec) -> JobQueueSpec:
    """``spec`` if its worker pods meet the restricted standard, else ForbiddenPodTemplate."""
    problems = pod_template_problems(spec)
    if problems:
        raise ForbiddenPodTemplate(problems)
    return spec
