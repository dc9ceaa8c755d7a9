"""The few Kubernetes API calls the operator makes, as plain dicts in and out.

Responses are read raw (``_preload_content=False``) and parsed as JSON: the
operator needs a handful of fields, not the client's model objects, and with
hundreds of JobQueues polled every few seconds the model layer is measurable
CPU. Every call the operator makes is here, so :mod:`sluice_operator.rbac`
can be checked against this one module.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException

from sluice_scaling.resource import GROUP, PLURAL, VERSION

from ..deployment import FIELD_MANAGER

MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"  # JSON is valid YAML
AUTOSCALER = "sluice-autoscaler"  # field manager of spec.replicas, apart from the rendering
TIMEOUT_S = (5.0, 15.0)  # connect, read: a stuck API server must not stall a queue's loop

Body = dict[str, Any]


class NotFound(LookupError):
    """The object does not exist (HTTP 404)."""


def _json(response: Any) -> Body:
    data: Body = json.loads(response.data or b"{}")
    return data


def _not_found(exc: ApiException) -> bool:
    return bool(exc.status == 404)


class KubeApi:
    """Synchronous; run it off the event loop."""

    def __init__(self, client: kubernetes.client.ApiClient) -> None:
        self.use(client)

    def use(self, client: kubernetes.client.ApiClient) -> None:
        """Switch to ``client`` (new credentials after a re-login) and close the old one.

        Every holder of this object (each JobQueue's scaler) switches with it.
        """
        old = getattr(self, "client", None)
        self.client = client
        self.apps = kubernetes.client.AppsV1Api(client)
        self.core = kubernetes.client.CoreV1Api(client)
        self.custom = kubernetes.client.CustomObjectsApi(client)
        if old is not None and old is not client:
            old.close()

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Body:
        try:
            return _json(
                method(*args, _preload_content=False, _request_timeout=TIMEOUT_S, **kwargs)
            )
        except ApiException as exc:
            if _not_found(exc):
                raise NotFound(str(exc.reason)) from None
            raise

    def read_deployment(self, namespace: str, name: str) -> Body:
        return self._call(self.apps.read_namespaced_deployment, name, namespace)

    def create_deployment(self, namespace: str, body: Mapping[str, Any]) -> Body:
        return self._call(
            self.apps.create_namespaced_deployment,
            namespace,
            dict(body),
            field_manager=FIELD_MANAGER,
        )

    def apply_deployment(self, namespace: str, name: str, body: Mapping[str, Any]) -> Body:
        """Server-side apply: our fields only, so the autoscaler's replicas stay as they are."""
        return self._call(
            self.apps.patch_namespaced_deployment, name, namespace, dict(body),
            field_manager=FIELD_MANAGER, force=True, _content_type=APPLY,
        )  # fmt: skip

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> Body:
        patch = {"spec": {"replicas": replicas}}
        return self._call(
            self.apps.patch_namespaced_deployment, name, namespace, patch,
            field_manager=AUTOSCALER, _content_type=MERGE,
        )  # fmt: skip

    def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[Body]:
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        body = self._call(self.core.list_namespaced_pod, namespace, label_selector=label_selector)
        items: list[Body] = body.get("items") or []
        return items

    def annotate_pod(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        patch = {"metadata": {"annotations": dict(annotations)}}
        self._call(
            self.core.patch_namespaced_pod, name, namespace, patch,
            field_manager=AUTOSCALER, _content_type=MERGE,
        )  # fmt: skip

    def read_secret_key(self, namespace: str, name: str, key: str) -> bytes:
        """One key of a Secret, decoded; raises :class:`KeyError` if the key is missing."""
        data = self._call(self.core.read_namespaced_secret, name, namespace).get("data") or {}
        if key not in data:
            raise KeyError(f"key {key!r} not in Secret {name!r}")
        return base64.b64decode(data[key])

    def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self._call(
            self.custom.patch_namespaced_custom_object_status,
            GROUP, VERSION, namespace, PLURAL, name, {"status": dict(status)},
            _content_type=MERGE,
        )  # fmt: skip

    def patch_spec(self, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
        """Merge ``spec`` into the JobQueue's spec (the dashboard's pause and resume)."""
        self._call(
            self.custom.patch_namespaced_custom_object,
            GROUP, VERSION, namespace, PLURAL, name, {"spec": dict(spec)},
            _content_type=MERGE,
        )  # fmt: skip
