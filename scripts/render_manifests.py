"""Render manifests/install.yaml from the Helm chart (``make manifests``).

The chart is the one description of an install; the plain manifest is its
default rendering into namespace ``sluice-system``, preceded by that Namespace
(labelled for the restricted Pod Security Standard). First the CRD is
generated into crds/ and the chart (scripts/gen_crd.py), so the render holds
the current schema. ``--check`` renders without writing and fails on drift.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
from pathlib import Path

from scripts import gen_crd

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "sluice"
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
        stale = [str(p.relative_to(ROOT)) for p in gen_crd.stale()]
        fresh = render()
        diff = list(difflib.unified_diff(INSTALL.read_text().splitlines(), fresh.splitlines()))
        for line in diff[:40]:
            print(line)
        if stale:
            print(f"CRD files out of date (`make crd`): {', '.join(stale)}")
        return 1 if diff or stale else 0
    for path in gen_crd.write():
        print(f"updated {path.relative_to(ROOT)}")
    INSTALL.write_text(render())
    print(f"wrote {INSTALL.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
