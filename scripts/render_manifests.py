"""Render manifests/install.yaml from the Helm chart (``make manifests``).

The chart is the one description of an install; the plain manifest is its
default rendering into namespace ``sluice-system``, preceded by that Namespace
(labelled for the restricted Pod Security Standard). First the CRD is copied
from crds/ into the chart, so the chart's copy stays byte-identical to the
source of truth. ``--check`` renders without writing and fails on drift.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "sluice"
CRDS = ROOT / "crds"
CHART_CRDS = CHART / "files" / "crds"
INSTALL = ROOT / "manifests" / "install.yaml"
RELEASE = "sluice"
NAMESPACE = "sluice-system"

HEADER = f"""\
# Sluice: the JobQueue CRD and the operator, watching every namespace.
# Generated from charts/sluice by `make manifests` (scripts/render_manifests.py)
# with the chart's default values; do not edit. Install with:
#   kubectl apply --server-side -f manifests/install.yaml
---
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
"""


def helm() -> str:
    """The helm binary: the one `make tools` unpacked, else the one on PATH."""
    local = ROOT / ".tools" / "bin" / "helm"
    found = str(local) if local.exists() else shutil.which("helm")
    if found is None:
        raise SystemExit("helm not found: run `make tools`")
    return found


def sync_crds() -> list[Path]:
    """Copy crds/*.yaml into the chart; returns the files that changed."""
    CHART_CRDS.mkdir(parents=True, exist_ok=True)
    changed = []
    for source in sorted(CRDS.glob("*.yaml")):
        target = CHART_CRDS / source.name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
            changed.append(target)
    return changed


def render() -> str:
    """The install manifest as the chart renders it now."""
    argv = [helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return HEADER + out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if install.yaml is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = [p.name for p in sorted(CRDS.glob("*.yaml")) if _differs(p, CHART_CRDS / p.name)]
        fresh = render()
        diff = list(difflib.unified_diff(INSTALL.read_text().splitlines(), fresh.splitlines()))
        for line in diff[:40]:
            print(line)
        if stale:
            print(f"chart CRD copies out of date: {', '.join(stale)}")
        return 1 if diff or stale else 0
    for path in sync_crds():
        print(f"updated {path.relative_to(ROOT)}")
    INSTALL.write_text(render())
    print(f"wrote {INSTALL.relative_to(ROOT)}")
    return 0


def _differs(a: Path, b: Path) -> bool:
    return not b.exists() or a.read_bytes() != b.read_bytes()


if __name__ == "__main__":
    sys.exit(main())
