"""Render the chart with the real helm binary and validate what comes out.

``render(values)`` runs ``helm template`` once per distinct value set (cached);
``validate(obj, version)`` checks one object against the OpenAPI schemas that
kubernetes-validate ships, in strict mode (unknown fields are errors), with
one compiled validator per (Kubernetes version, kind) instead of re-reading
the multi-megabyte definitions on every call as ``kubernetes_validate.validate``
does.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "sluice"
RELEASE = "sluice"
NAMESPACE = "sluice-system"

Obj = dict[str, Any]


@functools.cache
def helm() -> str:
    found = shutil.which("helm")
    assert found, "the helm binary is not on PATH: run `make tools` (tests run with .tools/bin)"
    return found


def helm_run(*args: str, values: Obj | None = None) -> subprocess.CompletedProcess[str]:
    """Run helm; ``values`` (if given) goes in through a values file."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(values, handle)
        handle.flush()
        extra = [] if values is None else ["--values", handle.name]
        argv = [helm(), *args, *extra]
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


@functools.cache
def _render(values_json: str, release: str) -> tuple[Obj, ...]:
    args = ("template", release, str(CHART), "--namespace", NAMESPACE)
    done = helm_run(*args, values=json.loads(values_json))
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def render(values: Obj | None = None, release: str = RELEASE) -> list[Obj]:
    """The objects ``helm template`` renders with these values (deep copies: mutate freely)."""
    docs = _render(json.dumps(values or {}, sort_keys=True), release)
    return json.loads(json.dumps(docs))  # type: ignore[no-any-return]


def of_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: list[Obj], kind: str) -> Obj:
    [found] = of_kind(objs, kind)
    return found


def named(objs: list[Obj], kind: str, suffix: str) -> Obj:
    """The one object of ``kind`` whose name ends with ``suffix``."""
    [found] = [o for o in of_kind(objs, kind) if o["metadata"]["name"].endswith(suffix)]
    return found


def kube_versions() -> list[str]:
    """The Kubernetes minors from Chart.yaml's kubeVersion floor that kubernetes-validate knows."""
    floor = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    match = re.fullmatch(r">=\s*1\.(\d+)\.0-0", floor)
    assert match, f"teach this test the kubeVersion {floor!r}"
    known = {kv.major_minor(v) for v in kv.all_versions()}
    return sorted((v for v in known if int(v.split(".")[1]) >= int(match[1])), key=_minor)


def _minor(version: str) -> int:
    return int(version.split(".")[1])


@functools.cache
def _registry(version: str) -> Registry:
    definitions = kv.schema_contents(
        f"kubernetes-json-schema/v{version}.0-local-strict/_definitions.json", version
    )
    return Resource.from_contents(definitions) @ Registry()  # type: ignore[no-any-return]


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.Validator:
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = f"kubernetes-json-schema/v{version}.0-local-strict/{kind.lower()}-{group}.json"
    schema = kv.schema_contents(path, version)
    registry = Resource.from_contents(schema) @ _registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate(obj: Obj, version: str) -> None:
    """Raise if ``obj`` is not a valid object of its kind in Kubernetes ``version`` (strict)."""
    try:
        validator = _validator(version, obj["kind"], obj["apiVersion"])
    except FileNotFoundError as exc:
        missing = kubernetes_validate.SchemaNotFoundError(obj["kind"], version, obj["apiVersion"])
        raise missing from exc
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if error is not None:
        where = ".".join(map(str, error.absolute_path))
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        raise AssertionError(f"{name} {version}: {where}: {error.message}")
