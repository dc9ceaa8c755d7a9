"""The JobQueue resource's identity: the one place its API group, version, kind and plural live.

The CRD (generated from :mod:`sluice_scaling.spec`), the Kopf handlers, the
RBAC rules, the Deployment's owner reference and local mode's manifest check
all read these names from here, so a version bump is one edit.
"""

from __future__ import annotations

GROUP = "sluice.dev"
VERSION = "v1alpha1"
KIND = "JobQueue"
PLURAL = "jobqueues"
SINGULAR = "jobqueue"
SHORT_NAMES = ("jobq",)
CATEGORIES = ("sluice",)

API_VERSION = f"{GROUP}/{VERSION}"
CRD_NAME = f"{PLURAL}.{GROUP}"
