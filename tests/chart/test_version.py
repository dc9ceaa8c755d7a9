"""One version: ``sluice/_version.py``; the chart, images and examples are checked against it.

The wheel reads it (pyproject's dynamic version) and both Python packages
re-export it. What cannot import Python (Chart.yaml, a Dockerfile ARG, a
``FROM`` line in the docs, the demo's image tag) must equal it, so a release
bump that misses one fails here rather than shipping a chart that pulls the
previous operator.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from chart_tools import CHART, ROOT, one, render

import sluice
import sluice_operator
from sluice._version import __version__

SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
# Image references with a literal tag: sluice-worker:1.2.3, sluice-operator:1.2.3.
IMAGE_TAG = re.compile(r"sluice-(?:worker|operator):(\d+\.\d+\.\d+\S*)")
TEXT_FILES = ("README.md", "CHANGELOG.md", "worker/Dockerfile", "operator/Dockerfile")
TEXT_DIRS = ("docs", "manifests/examples", "operator/sluice_local")


def _chart() -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return data


def test_the_version_is_semver_and_re_exported() -> None:
    assert SEMVER.match(__version__), __version__
    assert sluice.__version__ == sluice_operator.__version__ == __version__


def test_chart_version_and_app_version_are_the_package_version() -> None:
    chart = _chart()
    assert str(chart["version"]) == __version__
    assert str(chart["appVersion"]) == __version__


def test_the_operator_image_defaults_to_the_app_version() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["tag"] == "", "an empty tag is what makes the image follow appVersion"
    container = one(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{values['image']['repository']}:{__version__}"
    labels = one(render(), "Deployment")["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == __version__


def _text_files() -> list[Path]:
    files = [ROOT / name for name in TEXT_FILES if (ROOT / name).exists()]
    for folder in TEXT_DIRS:
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in (".md", ".yaml"))
    return files


@pytest.mark.parametrize("path", _text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_literal_image_tags_name_this_version(path: Path) -> None:
    tags = IMAGE_TAG.findall(path.read_text(encoding="utf-8"))
    assert all(tag == __version__ for tag in tags), f"{path.name}: {tags} != {__version__}"


def test_the_tag_scan_finds_the_tags_it_guards() -> None:
    found = [t for p in _text_files() for t in IMAGE_TAG.findall(p.read_text(encoding="utf-8"))]
    assert len(found) >= 3  # README FROM lines, the Dockerfile's usage note, the demo image
    assert IMAGE_TAG.findall("FROM ghcr.io/x/sluice-worker:0.0.9 AS app") == ["0.0.9"]
