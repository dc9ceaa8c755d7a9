"""The Dockerfiles follow the image rules, and the worker's install step works.

No container engine runs here, so the Dockerfiles are parsed and checked:
multi-stage on a base pinned to a patch version, Sluice installed from the
repository's own metadata, a final stage with no compilers or caches running
as a numeric non-root uid that the chart and the operator's pod security
context agree on, OCI labels, the expected entrypoints and ports. Then the
worker's build stage is replayed: its COPY lines into a fresh context, the
package built and installed into a fresh virtualenv, offline; the result must
carry the Lua scripts and the `sluice` command and no Kopf or Kubernetes client.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from chart_tools import ROOT, one, render

from sluice import __version__
from sluice_operator import deployment

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PINNED_BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")
BUILD_TOOLS = re.compile(r"\b(apt-get|apt|gcc|g\+\+|make|build-essential|git|curl|wget)\b")
OCI = ("title", "description", "version", "licenses")


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> list[Stage]:
    """Stages of a Dockerfile: joined continuation lines, comments dropped."""
    text = re.sub(r"\s*\\\n\s*", " ", path.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            image, _, name = args.partition(" AS ")
            stages.append(Stage(image.strip(), name.strip() or None))
        else:
            assert stages, f"{path}: {keyword} before FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


DOCKERFILES = {
    "worker": ROOT / "worker" / "Dockerfile",
    "operator": ROOT / "operator" / "Dockerfile",
}
IMAGES = [pytest.param(path, id=name) for name, path in DOCKERFILES.items()]


@pytest.mark.parametrize("path", IMAGES)
def test_multi_stage_on_a_pinned_slim_base(path: Path) -> None:
    stages = parse(path)
    assert len(stages) >= 2
    for stage in stages:
        assert PINNED_BASE.match(stage.image), f"unpinned base {stage.image}"
        assert "latest" not in stage.image
    build, final = stages[0], stages[-1]
    assert build.name == "build"
    assert final.all("COPY")
    assert all(c.startswith("--from=build ") for c in final.all("COPY"))


@pytest.mark.parametrize("path", IMAGES)
def test_build_stage_installs_from_the_repository_metadata(path: Path) -> None:
    build = parse(path)[0]
    copied = " ".join(build.all("COPY"))
    assert "pyproject.toml" in copied
    assert "README.md" in copied  # pyproject's readme: the build fails without it
    installs = [r for r in build.all("RUN") if "pip install" in r]
    assert installs
    expected = '".[operator]"' if path.parent.name == "operator" else " ."
    assert all("--no-cache-dir" in r for r in installs)
    assert any(expected in r for r in installs), installs
    assert "PIP_NO_CACHE_DIR=1" in " ".join(build.all("ENV"))
    for args in build.all("COPY"):
        *sources, _ = args.split()
        assert all((ROOT / source).exists() for source in sources), args


@pytest.mark.parametrize("path", IMAGES)
def test_final_stage_is_non_root_without_build_tools(path: Path) -> None:
    final = parse(path)[-1]
    [user] = final.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert int(uid) >= 10000, user
    assert gid == "" or (gid.isdigit() and int(gid) != 0)
    last_user = max(i for i, (kw, _) in enumerate(final.instructions) if kw == "USER")
    assert all(kw != "RUN" for kw, _ in final.instructions[last_user:])
    for run in final.all("RUN"):
        assert not BUILD_TOOLS.search(run), run
        assert "pip install" not in run, run
    assert int(uid) == deployment.UID  # the worker pods' runAsUser
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(uid)


@pytest.mark.parametrize("path", IMAGES)
def test_oci_labels(path: Path) -> None:
    final = parse(path)[-1]
    labels = " ".join(final.all("LABEL"))
    for key in OCI:
        assert f"org.opencontainers.image.{key}=" in labels
    [version] = [a for a in final.all("ARG") if a.startswith("VERSION=")]
    assert version == f"VERSION={__version__}"  # the one version source
    assert f'licenses="{PYPROJECT["project"]["license"]["text"]}"' in labels


def test_worker_entrypoint_and_port() -> None:
    final = parse(DOCKERFILES["worker"])[-1]
    assert [json.loads(e) for e in final.all("ENTRYPOINT")] == [["sluice", "worker"]]
    assert "sluice" in PYPROJECT["project"]["scripts"]
    assert final.all("EXPOSE") == ["9090"]  # JobQueue spec.worker.metricsPort default
    assert "PYTHONPATH=/app" in " ".join(final.all("ENV"))


def test_operator_entrypoint_and_ports_match_the_chart() -> None:
    final = parse(DOCKERFILES["operator"])[-1]
    assert [json.loads(e) for e in final.all("ENTRYPOINT")] == [["sluice-operator"]]
    assert "sluice-operator" in PYPROJECT["project"]["scripts"]
    container = one(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    ports = {str(p["containerPort"]) for p in container["ports"]}
    assert set(final.all("EXPOSE")[0].split()) == ports


def test_the_parser_sees_instructions_after_continuations(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM a AS build\nRUN one \\\n    two\n# note\nFROM b\nUSER 1\n")
    build, final = parse(dockerfile)
    assert build.all("RUN") == ["one two"]
    assert (final.image, final.all("USER")) == ("b", ["1"])


# --- the worker's install step, replayed offline ------------------------------------


def _context(tmp_path: Path) -> Path:
    """A build context holding what the worker's build stage COPYs, where it puts it."""
    context = tmp_path / "src"
    for args in parse(DOCKERFILES["worker"])[0].all("COPY"):
        *sources, target = args.split()
        for source in sources:
            dest = context / target / (Path(source).name if target.endswith("/") else "")
            if (ROOT / source).is_dir():
                dest = context / target
                ignore = shutil.ignore_patterns("__pycache__", "Dockerfile")
                shutil.copytree(ROOT / source, dest, ignore=ignore)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / source, dest)
    return context


def _run(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# Run in the fresh venv: the worker CLI imports from the installed copy, with the
# base dependencies borrowed from the dev environment (nothing is downloaded),
# and pulls in no Kopf or Kubernetes client.
IMPORT_CHECK = """
import contextlib, io, sys
venv, deps = sys.argv[1], sys.argv[2]
sys.path.append(deps)
import sluice, sluice.cli
assert sluice.__file__.startswith(venv), sluice.__file__
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = sluice.cli.main(["worker", "--help"])
assert code == 0 and "--concurrency" in out.getvalue(), out.getvalue()
leaked = sorted({m.split(".")[0] for m in sys.modules} & {"kopf", "kubernetes"})
assert not leaked, leaked
"""


def _dependencies_site() -> str:
    import redis  # one of the base dependencies: its site-packages holds them all

    return str(Path(redis.__file__).parents[1])


@pytest.mark.slow
def test_worker_install_step_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    context, dist, venv = _context(tmp_path), tmp_path / "dist", tmp_path / "venv"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir")
    _run(
        *pip,
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        dist,
        ".",
        cwd=context,
    )
    [wheel] = dist.glob("*.whl")
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _run(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel)

    site = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    installed = {p.name.split("-")[0].lower() for p in site.iterdir()}
    assert {"sluice", "sluice_operator"} <= installed
    assert not {"kopf", "kubernetes"} & installed
    assert list((site / "sluice" / "protocol" / "lua").glob("*.lua")), "Lua scripts not packaged"
    assert (venv / "bin" / "sluice").exists()

    _run(python, "-c", IMPORT_CHECK, venv, _dependencies_site())

    with zipfile.ZipFile(wheel) as archive:
        [meta] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in archive.read(meta).decode().splitlines()
            if line.startswith("Requires-Dist: ")
        ]
    base = [r for r in requires if "extra ==" not in r]
    assert not [r for r in base if re.match(r"(kopf|kubernetes)\b", r)], base
    assert any(r.startswith("kopf") and 'extra == "operator"' in r for r in requires)
