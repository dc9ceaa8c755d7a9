"""What the figures were measured on: CPU, memory, load, versions, date."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any

import redis


def _first(path: str, prefix: str) -> str:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return "unknown"
    found = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith(prefix)), "")
    return found or "unknown"


def describe(client: redis.Redis) -> dict[str, Any]:
    server = client.info("server")
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory": _first("/proc/meminfo", "MemTotal"),
        "os": platform.platform(),
        "python": platform.python_version(),
        "redis": f"{server.get('redis_version')} (loopback, no persistence)",
        "load_before": load(),
    }


def load() -> str:
    """1/5/15-minute load averages: a busy machine distorts every figure."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
