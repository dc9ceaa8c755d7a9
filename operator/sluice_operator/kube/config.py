"""Kubernetes client configuration, built explicitly rather than from import-time globals.

The ``kubernetes`` package resolves ``$KUBECONFIG`` when it is imported and
keeps a process-wide default configuration. The operator instead loads a fresh
:class:`~kubernetes.client.Configuration` at login (in-cluster service account
first, then the kubeconfig named by ``$KUBECONFIG`` *now*), gives Kopf the same
endpoint and credentials, and builds its own API client from it. Tests point
both at an API emulator by setting ``$KUBECONFIG`` before the operator starts.
"""

from __future__ import annotations

import os
from typing import Any

import kopf
import kubernetes.client
import kubernetes.config

DEFAULT_KUBECONFIG = "~/.kube/config"


def load_configuration() -> kubernetes.client.Configuration:
    """In-cluster credentials, else the current ``$KUBECONFIG`` (or ``~/.kube/config``)."""
    config = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        path = os.environ.get("KUBECONFIG") or os.path.expanduser(DEFAULT_KUBECONFIG)
        load = kubernetes.config.load_kube_config
        load(config_file=path, client_configuration=config)  # type: ignore[no-untyped-call]
    return config


def _token(config: kubernetes.client.Configuration) -> tuple[str | None, str | None]:
    header: Any = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix(
        "authorization"
    )
    if not header:
        return None, None
    scheme, _, token = str(header).partition(" ")
    return (scheme, token) if token else (None, scheme)


def connection_info(config: kubernetes.client.Configuration) -> kopf.ConnectionInfo:
    """The same endpoint and credentials, in the shape Kopf's own client wants."""
    scheme, token = _token(config)
    return kopf.ConnectionInfo(
        server=config.host,
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        username=config.username or None,
        password=config.password or None,
        scheme=scheme,
        token=token,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
    )


def api_client(config: kubernetes.client.Configuration) -> kubernetes.client.ApiClient:
    return kubernetes.client.ApiClient(configuration=config)
