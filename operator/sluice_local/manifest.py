"""Read a JobQueue YAML file for ``sluice up``, validated by the operator's own spec model.

The file is the one ``kubectl apply`` takes, and :func:`sluice_scaling.spec.parse_spec`
judges its spec, so a mistake gets the same answer locally as in a cluster.
Every problem names the file, the field and the reason; the CLI exits with
code 2 (usage/validation error) on a :class:`ManifestError`.

One local difference: ``spec.redis`` may be left out, because local mode
brings its own Redis. A ``urlSecretRef`` cannot be resolved without a
cluster either, so only a plain ``spec.redis.url`` is used here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sluice_scaling.resource import API_VERSION, KIND
from sluice_scaling.spec import JobQueueSpec, SpecError, parse_spec

EXIT_CODE = 2  # the sluice CLI's code for usage and validation errors
# metadata.name names the worker Deployment in a cluster: a DNS-1123 subdomain.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# Validates a spec that leaves redis out; never used to connect (see Manifest.redis_url).
_LOCAL_REDIS = {"url": "redis://127.0.0.1:6379/0"}


class ManifestError(ValueError):
    """An unreadable or invalid JobQueue file; each problem names its field and reason."""

    exit_code = EXIT_CODE

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


@dataclass(frozen=True)
class Manifest:
    """A validated JobQueue, as local mode needs it."""

    path: Path
    name: str  # metadata.name
    spec: JobQueueSpec
    redis_url: str | None  # spec.redis.url when the file gives one; else local mode chooses

    @property
    def queue(self) -> str:
        """The Redis queue name: ``spec.queueName``, else ``metadata.name``."""
        return self.spec.queue_name or self.name


def load_manifest(path: Path | str) -> Manifest:
    """Read and validate ``path``; raises :class:`ManifestError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path, [f"cannot read: {_os_reason(exc)}"]) from exc
    return parse_manifest(text, path)


def parse_manifest(text: str, path: Path | str = "<manifest>") -> Manifest:
    """Validate the text of a JobQueue file; ``path`` only labels the errors."""
    doc = _the_jobqueue(_documents(text, path), path)
    name = _name(doc, path)
    raw_spec = doc.get("spec")
    if not isinstance(raw_spec, Mapping):
        raise ManifestError(path, [f"spec: required, a mapping (got {_kind(raw_spec)})"])
    return Manifest(Path(path), name, _spec(raw_spec, path), _redis_url(raw_spec))


def _documents(text: str, path: Path | str) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(path, [_yaml_problem(exc)]) from exc


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"invalid YAML: {where}{problem}"


def _the_jobqueue(docs: list[Any], path: Path | str) -> Mapping[str, Any]:
    """The one JobQueue document (a file may also hold other objects, e.g. a Secret)."""
    if not docs:
        raise ManifestError(path, [f"empty: expected a {KIND} document"])
    odd = [d for d in docs if not isinstance(d, Mapping)]
    if odd:
        raise ManifestError(path, [f"expected a {KIND} mapping, got {_kind(odd[0])}"])
    mappings: list[Mapping[str, Any]] = docs
    queues = [d for d in mappings if d.get("kind") == KIND]
    if len(queues) != 1:
        kinds = ", ".join(str(d.get("kind")) for d in mappings)
        raise ManifestError(path, [f"kind: expected exactly one {KIND}, found {kinds}"])
    doc = queues[0]
    if doc.get("apiVersion") != API_VERSION:
        got = doc.get("apiVersion")
        raise ManifestError(path, [f"apiVersion: must be {API_VERSION}, got {got!r}"])
    return doc


def _name(doc: Mapping[str, Any], path: Path | str) -> str:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str) or not _NAME.match(name):
        reason = "required" if name is None else f"not a DNS-1123 subdomain: {name!r}"
        raise ManifestError(path, [f"metadata.name: {reason}"])
    return name


def _spec(raw: Mapping[str, Any], path: Path | str) -> JobQueueSpec:
    if "redis" not in raw:
        raw = {**raw, "redis": _LOCAL_REDIS}
    try:
        return parse_spec(raw)
    except SpecError as exc:
        raise ManifestError(path, exc.problems) from exc


def _redis_url(raw: Mapping[str, Any]) -> str | None:
    redis = raw.get("redis")
    url = redis.get("url") if isinstance(redis, Mapping) else None
    return url if isinstance(url, str) else None


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _os_reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return exc.strerror or type(exc).__name__
