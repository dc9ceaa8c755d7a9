"""One virtualenv per library, outside the repository, reused while it is fresh.

Each peer pins its own redis-py, so they cannot share an environment with each
other or with Sluice. A stamp file records what was installed and when; a venv
is reused while its stamp matches and is younger than a day, so repeated runs
start quickly yet still measure each library's current release. Sluice is
installed from a copy of the repository's sources (building in place would
leave build/ and egg-info directories in the work tree), and reinstalled
whenever those sources change. pip runs under a time box: a peer that cannot
install is reported with the reason instead of failing the run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.peers.catalog import REPO_ROOT, PeerSpec

DEFAULT_ROOT = Path.home() / ".cache" / "sluice-bench" / "venvs"
FRESH_FOR_S = 24 * 3600
SOURCES = ("pyproject.toml", "README.md", "worker", "operator")
# pip lines worth showing as progress; the rest is noise at this level.
SHOWN = ("Collecting", "Downloading", "Building", "Installing", "Successfully", "ERROR")

Log = Callable[[str], None]


@dataclass(frozen=True)
class Installed:
    peer: str
    python: Path | None
    error: str | None = None
    reused: bool = False


def source_digest(root: Path = REPO_ROOT) -> str:
    """Digest of the files a Sluice install is built from (not of caches)."""
    digest = hashlib.sha256()
    for path in sorted(_source_files(root)):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _source_files(root: Path) -> Iterator[Path]:
    for name in SOURCES:
        top = root / name
        candidates = [top] if top.is_file() else top.rglob("*")
        for path in candidates:
            if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
                yield path


def wanted_stamp(spec: PeerSpec) -> dict[str, str]:
    if spec.from_repo:
        return {"requirements": "sluice from repository", "sources": source_digest()}
    return {"requirements": " ".join(spec.requirements)}


def is_fresh(stamp: dict[str, object], wanted: dict[str, str], now: float) -> bool:
    """Reuse a venv that holds what we want and is younger than a day."""
    same = all(stamp.get(k) == v for k, v in wanted.items())
    installed_at = stamp.get("installed_at")
    young = isinstance(installed_at, int | float) and now - installed_at < FRESH_FOR_S
    return same and young


def ensure(spec: PeerSpec, root: Path, *, upgrade: bool, timeout_s: float, log: Log) -> Installed:
    """A venv with the peer installed, or the reason there is none."""
    venv = root / spec.name
    python = venv / "bin" / "python"
    stamp_file = venv / ".bench-stamp.json"
    wanted = wanted_stamp(spec)
    stamp = json.loads(stamp_file.read_text()) if stamp_file.exists() else {}
    if python.exists() and not upgrade and is_fresh(stamp, wanted, time.time()):
        return Installed(spec.name, python, reused=True)
    started, created = time.monotonic(), not python.exists()
    try:
        if created:
            log(f"[{spec.name}] creating virtualenv {venv}")
            _run([sys.executable, "-m", "venv", str(venv)], timeout_s, log, spec.name)
        remaining = timeout_s - (time.monotonic() - started)
        _pip_install(spec, python, remaining, log)
    except (OSError, subprocess.SubprocessError, InstallError) as exc:
        if created:  # half a venv would pass for a whole one next time
            shutil.rmtree(venv, ignore_errors=True)
        return Installed(spec.name, None, error=str(exc).replace(str(Path.home()), "~"))
    stamp_file.write_text(json.dumps({**wanted, "installed_at": time.time()}))
    log(f"[{spec.name}] installed in {time.monotonic() - started:.0f} s")
    return Installed(spec.name, python)


class InstallError(RuntimeError):
    """pip failed or ran out of time."""


def _pip_install(spec: PeerSpec, python: Path, timeout_s: float, log: Log) -> None:
    pip = [str(python), "-m", "pip", "install", "--upgrade", "--progress-bar", "off",
           "--disable-pip-version-check"]  # fmt: skip
    if not spec.from_repo:
        log(f"[{spec.name}] pip install {' '.join(spec.requirements)} (time box {timeout_s:.0f} s)")
        _run([*pip, *spec.requirements], timeout_s, log, spec.name)
        return
    with _source_copy() as source:
        log(f"[{spec.name}] pip install <repository> (time box {timeout_s:.0f} s)")
        # --force-reinstall: same version number, new code.
        _run([*pip, "--force-reinstall", str(source)], timeout_s, log, spec.name)


@contextmanager
def _source_copy() -> Iterator[Path]:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    with tempfile.TemporaryDirectory(prefix="sluice-src-") as tmp:
        dest = Path(tmp)
        for name in SOURCES:
            src = REPO_ROOT / name
            if src.is_dir():
                shutil.copytree(src, dest / name, ignore=ignore)
            elif src.exists():
                shutil.copy2(src, dest / name)
        yield dest


def _run(argv: list[str], timeout_s: float, log: Log, tag: str) -> None:
    """Run a command, echoing its progress lines, killed when the time box closes."""
    tail: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        timer = threading.Timer(max(timeout_s, 1.0), proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                tail = [*tail[-9:], line.rstrip()]
                if line.startswith(SHOWN):
                    log(f"[{tag}]   {line.rstrip()[:110]}")
            code = proc.wait()
        finally:
            timer.cancel()
    if code != 0:
        why = "timed out" if code == -9 else f"exit code {code}"
        raise InstallError(f"{' '.join(argv[2:5])} {why}: " + " | ".join(tail[-3:]))
