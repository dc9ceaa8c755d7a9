"""JobQueue files for `sluice up`: the operator's validation, errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice_local.manifest import ManifestError, load_manifest, parse_manifest

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
apiVersion: sluice.dev/v1alpha1
kind: JobQueue
metadata: {name: thumbs}
spec:
  redis: {url: "redis://127.0.0.1:6390/0"}
  worker: {image: img, tasks: "app.tasks:tasks", concurrency: 3}
"""


def problems(text: str, path: str = "q.yaml") -> list[str]:
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, path)
    assert info.value.exit_code == 2
    assert all(line.startswith(f"{path}: ") for line in str(info.value).splitlines())
    return info.value.problems


def test_valid_file_gives_spec_queue_and_url(tmp_path: Path) -> None:
    path = tmp_path / "jq.yaml"
    path.write_text(GOOD)
    m = load_manifest(path)
    assert (m.name, m.queue, m.redis_url) == ("thumbs", "thumbs", "redis://127.0.0.1:6390/0")
    assert m.spec.worker.concurrency == 3


def test_queue_name_overrides_metadata_name() -> None:
    m = parse_manifest(GOOD.replace("spec:\n", "spec:\n  queueName: images.v2\n"))
    assert m.queue == "images.v2"


def test_redis_may_be_left_out_locally() -> None:
    m = parse_manifest(GOOD.replace('  redis: {url: "redis://127.0.0.1:6390/0"}\n', ""))
    assert m.redis_url is None


def test_secret_ref_is_valid_but_gives_no_local_url() -> None:
    text = GOOD.replace('{url: "redis://127.0.0.1:6390/0"}', "{urlSecretRef: {name: s, key: url}}")
    assert parse_manifest(text).redis_url is None


def test_invalid_yaml_names_line_and_column() -> None:
    (msg,) = problems("apiVersion: sluice.dev/v1alpha1\nkind: [JobQueue\n")
    assert msg.startswith("invalid YAML: line 3")


def test_invalid_spec_names_field_and_reason() -> None:
    text = GOOD + "  scaling: {minReplicas: 3, maxReplicas: 2}\n"
    (msg,) = problems(text)
    assert msg.startswith("spec.scaling: ")
    assert "maxReplicas (2) must be >= minReplicas (3)" in msg


def test_every_field_problem_is_listed() -> None:
    text = GOOD.replace("concurrency: 3", "concurrency: 0, bogus: 1")
    found = problems(text)
    assert any(p.startswith("spec.worker.concurrency:") for p in found)
    assert any(p.startswith("spec.worker.bogus:") for p in found)


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("", "empty"),
        ("- a\n- b\n", "expected a JobQueue mapping, got list"),
        (GOOD + "---\n- a\n", "expected a JobQueue mapping, got list"),
        (GOOD.replace("kind: JobQueue", "kind: Deployment"), "kind: expected exactly one"),
        (GOOD + "---\n" + GOOD, "kind: expected exactly one JobQueue, found JobQueue, JobQueue"),
        (GOOD.replace("v1alpha1", "v9"), "apiVersion: must be sluice.dev/v1alpha1"),
        (GOOD.replace("metadata: {name: thumbs}", "metadata: {}"), "metadata.name: required"),
        (GOOD.replace("name: thumbs", "name: Thumbs_1"), "metadata.name: not a DNS-1123"),
        (GOOD.split("spec:", maxsplit=1)[0], "spec: required"),
    ],
)
def test_structural_problems(text: str, start: str) -> None:
    (msg,) = problems(text)
    assert msg.startswith(start), msg


def test_other_objects_in_the_file_are_ignored() -> None:
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n"
    assert parse_manifest(secret + GOOD).name == "thumbs"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"missing\.yaml: cannot read: No such file"):
        load_manifest(tmp_path / "missing.yaml")


def test_shipped_demo_manifest_is_valid() -> None:
    m = load_manifest(ROOT / "manifests" / "examples" / "demo.yaml")
    assert m.spec.worker.tasks == "sluice.demo_tasks:tasks"
    assert m.spec.scaling.min_replicas == 0
    assert m.spec.scaling.idle_seconds_before_zero <= 30  # the demo returns to zero quickly


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ("  jobs: {leaseSeconds: .inf}\n", "spec.jobs.leaseSeconds", "finite number"),
        ("  jobs: {timeoutSeconds: .nan}\n", "spec.jobs.timeoutSeconds", "finite number"),
        ("  jobs: {resultTtlSeconds: 100000000000000000000}\n", "spec.jobs.resultTtlSeconds",
         "less than or equal to 2592000"),
        ("  jobs: {maxAttempts: 100000}\n", "spec.jobs.maxAttempts",
         "less than or equal to 1000"),
    ],
)  # fmt: skip
def test_numbers_out_of_range_are_refused_by_field(line: str, field: str, reason: str) -> None:
    (msg,) = problems(GOOD + line)
    assert msg.startswith(f"{field}: "), msg
    assert reason in msg
