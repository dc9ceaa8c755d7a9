"""``python -m benchmarks.dashboard``: the dashboard's API latency, page render and server CPU.

Each run starts a private redis-server and a real ``sluice dashboard`` process
and measures, from outside it:

- API latency at a fixed 100 requests/s (open loop: each request is due at
  its own time and its latency counts from then, so a stall is not hidden),
  a mix of the overview, one queue, a page of 50 jobs and one job, over 50
  queues;
- the overview of 500 queues in Debian's headless Chromium: from navigation
  start to the first paint after all 500 rows are in the table (the page's
  ``sluice-overview-rendered`` performance mark), the median of 5 loads per run;
- the server process's CPU (user + system, from /proc) with no page open and
  with 10 live pages (5 overviews, 5 queue pages: event-stream clients that
  read everything a page receives) over 50 queues, and with the 500-queue
  overview open, and its resident memory then.

Runs are interleaved (every measure once, then again), and each figure is the
median with the min-max spread. The load generator and the browser share the
machine with the server: on 2 cores the figures include that contention. The
machine's load average before and after is printed with the figures: the page
render in particular doubles on a machine busy with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import redis

from benchmarks.figures import spread
from sluice import Queue
from sluice_local.redis_server import RedisServer

SMALL, LARGE = 50, 500  # queues
RATE = 100.0  # requests per second
RENDERS = 5  # page loads per run; the run's figure is their median
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--window-size=1280,900",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(url: str, queues: int, jobs: int) -> list[str]:
    """``queues`` queues of ``jobs`` waiting jobs each; returns one job id per queue."""
    client = redis.Redis.from_url(url)
    client.flushall()
    ids = []
    for i in range(queues):
        queue = Queue(f"queue-{i:03d}", client)
        ids.append(queue.enqueue_many(("work", {"n": n}) for n in range(jobs))[0])
    client.close()
    return ids


@contextlib.contextmanager
def dashboard(url: str) -> Iterator[tuple[str, int]]:
    """A ``sluice dashboard`` process: (its base URL, its pid)."""
    port = free_port()
    argv = [sys.executable, "-m", "sluice", "dashboard", "--redis-url", url, "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(base + "/api/config"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(15)


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310  (our own loopback URL)
            return bool(r.status == 200)
    except OSError:
        return False


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- API latency -------------------------------------------------------------


async def _latencies(base: str, paths: list[str], seconds: float) -> list[float]:
    out: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:

        async def one(path: str, due: float) -> None:
            async with session.get(base + path) as response:
                await response.read()
                assert response.status == 200, (path, response.status)
            out.append(time.monotonic() - due)

        start = time.monotonic() + 0.2
        tasks = []
        for i in range(int(seconds * RATE)):
            due = start + i / RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(one(paths[i % len(paths)], due)))
        await asyncio.gather(*tasks)
    return out


def api_latency(base: str, job_ids: list[str], seconds: float) -> tuple[float, float]:
    paths = []
    for i, job in enumerate(job_ids[:10]):
        q = f"/api/queues/queue-{i:03d}"
        paths += ["/api/queues", q, q + "/jobs?state=waiting&limit=50", f"{q}/jobs/{job}"]
    lat = sorted(asyncio.run(_latencies(base, paths, seconds)))
    return lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000


# --- CPU with live pages -----------------------------------------------------


async def _hold_streams(base: str, paths: list[str], seconds: float) -> int:
    received = 0
    async with aiohttp.ClientSession() as session:

        async def read(path: str) -> None:
            nonlocal received
            async with session.get(base + path) as response:
                async for chunk in response.content.iter_any():
                    received += len(chunk)

        tasks = [asyncio.create_task(read(p)) for p in paths]
        await asyncio.sleep(seconds)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return received


def server_cpu(base: str, pid: int, pages: int, seconds: float) -> float:
    """The server's CPU (% of one core) while ``pages`` live pages are open."""
    paths = [
        "/api/events" if i % 2 == 0 else f"/api/queues/queue-{i:03d}/events" for i in range(pages)
    ]
    time.sleep(1.0)  # settle after the previous part
    before, began = cpu_seconds(pid), time.monotonic()
    if pages:
        asyncio.run(_hold_streams(base, paths, seconds))
    else:
        time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - began)


# --- the 500-queue overview in Chromium --------------------------------------


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver_path):
        raise SystemExit("needs Debian's chromium and chromium-driver (apt-get install)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not download anything
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="sluice-bench-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def overview_render_ms(driver: Any, base: str) -> float:
    driver.get("about:blank")
    driver.get(base + "/")
    deadline = time.monotonic() + 30
    script = "return performance.getEntriesByName('sluice-overview-rendered').map(e => e.startTime)"
    while not (marks := driver.execute_script(script)):
        if time.monotonic() > deadline:
            raise RuntimeError("the overview did not render")
        time.sleep(0.02)
    rows = driver.execute_script("return document.querySelectorAll('#queues tbody tr').length")
    if rows != LARGE:
        raise RuntimeError(f"{rows} rows rendered, expected {LARGE}")
    return float(marks[0])


# --- report ------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dashboard", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (>= 3)")
    parser.add_argument("--seconds", type=float, default=15.0, help="per latency / CPU window")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp)) as server:
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            ids = fill(server.url, SMALL, 200)
            with dashboard(server.url) as (base, pid):
                p50, p99 = api_latency(base, ids, args.seconds)
                figures.setdefault("api_p50", []).append(p50)
                figures.setdefault("api_p99", []).append(p99)
                for pages in (0, 10):
                    cpu = server_cpu(base, pid, pages, args.seconds)
                    figures.setdefault(f"cpu_{pages}", []).append(cpu)
            fill(server.url, LARGE, 2)
            with dashboard(server.url) as (base, pid), chromium() as driver:
                loads = [overview_render_ms(driver, base) for _ in range(RENDERS)]
                figures.setdefault("render", []).append(statistics.median(loads))
                before, began = cpu_seconds(pid), time.monotonic()
                time.sleep(args.seconds)  # the overview page stays open and live
                cpu = 100 * (cpu_seconds(pid) - before) / (time.monotonic() - began)
                figures.setdefault("cpu_large", []).append(cpu)
                figures.setdefault("rss_large", []).append(rss_mib(pid))
    print_report(figures, args, (load_before, os.getloadavg()[0]))


def print_report(
    f: dict[str, list[float]], args: argparse.Namespace, load: tuple[float, float]
) -> None:
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rate = f"{RATE:.0f} req/s, {SMALL} queues"
    rows = [
        (f"API latency p50 at {rate}", spread(f["api_p50"], ".1f") + " ms"),
        (f"API latency p99 at {rate}", spread(f["api_p99"], ".1f") + " ms"),
        (f"overview of {LARGE} queues rendered in Chromium", spread(f["render"], ".0f") + " ms"),
        (f"server CPU, {SMALL} queues, no page open", spread(f["cpu_0"], ".1f") + " % of a core"),
        (f"server CPU, {SMALL} queues, 10 live pages", spread(f["cpu_10"], ".1f") + " % of a core"),
        (
            f"server CPU, {LARGE} queues, overview open",
            spread(f["cpu_large"], ".1f") + " % of a core",
        ),
        (f"server memory (RSS), {LARGE} queues", spread(f["rss_large"], ".0f") + " MiB"),
    ]
    print(f"python -m benchmarks.dashboard --runs {args.runs} --seconds {args.seconds:g}")
    print(
        f"{date}; Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} "
        f"cores, load average {load[0]:.1f} before and {load[1]:.1f} after; "
        f"median (min-max) of {args.runs} interleaved runs\n"
    )
    print("| measure | result |\n|---|---|")
    for measure, result in rows:
        print(f"| {measure} | {result} |")


if __name__ == "__main__":
    main()
