"""`sluice load` and `sluice up` as subcommands: flags, shapes, output, a real queue."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from sluice import Priority, Queue
from sluice.cli import load as load_cli
from sluice.cli.common import add_connection_options
from sluice_local import up_command as up_cli


def parser() -> argparse.ArgumentParser:
    """The subcommands registered the way the sluice CLI registers its own."""
    top = argparse.ArgumentParser(prog="sluice")
    add_connection_options(top, top_level=True)
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common, top_level=False)
    sub = top.add_subparsers(dest="command", required=True)
    load_cli.register(sub, common)
    up_cli.register(sub, common)
    return top


def test_load_enqueues_the_shape_and_prints_json(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parser().parse_args(
        ["load", "--redis-url", redis_url, "--queue", "lq", "--rate", "40", "--duration", "1",
         "--payload", '{"seconds": 0.01, "fail": 0.5}', "--priority", "high", "--json"]
    )  # fmt: skip
    assert args.func(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[-1] == {"type": "summary", "sent": 40, "seconds": 1.0}
    assert any(x["type"] == "progress" for x in lines)
    with Queue("lq", redis=redis_url) as queue:
        stats = queue.stats()
    assert stats.counters.enqueued == 40
    assert stats.ready[Priority.HIGH] == 40


@pytest.mark.parametrize(
    ("flags", "jobs"),
    [
        (["--steps", "20:0.5,40:0.5"], 30),
        (["--rate", "0", "--spike", "50", "--at", "0.2", "--width", "0.4", "--duration", "1"], 20),
    ],
)
def test_load_shapes_from_flags(redis_url: str, flags: list[str], jobs: int) -> None:
    args = parser().parse_args(["load", "--redis-url", redis_url, "--queue", "sq", *flags])
    assert load_cli.shape_from(args).total(10) == pytest.approx(jobs)


def test_load_reads_a_trace(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("t,rate\n0,10\n2,10\n")
    args = parser().parse_args(["load", "--queue", "tq", "--trace", str(trace)])
    assert load_cli.shape_from(args).total(2) == 20


@pytest.mark.parametrize(
    ("flags", "match"),
    [(["--steps", "20"], "RATE:SECONDS"), (["--payload", "{nope"], "not valid JSON")],
)
def test_load_rejects_bad_flags(redis_url: str, flags: list[str], match: str) -> None:
    args = parser().parse_args(["load", "--redis-url", redis_url, "--queue", "bq", *flags])
    with pytest.raises(ValueError, match=match):
        load_cli.run(args)


def test_up_without_the_local_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sluice_local

    monkeypatch.setitem(sys.modules, "sluice_local.cli", None)  # import fails
    monkeypatch.delattr(sluice_local, "cli", raising=False)
    args = parser().parse_args(["up", "-f", str(tmp_path / "q.yaml")])
    assert args.func(args) == 1
    assert "pip install 'sluice-queue[local]'" in capsys.readouterr().err
