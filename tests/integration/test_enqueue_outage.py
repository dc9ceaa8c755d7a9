"""Producers through a Redis restart: enqueue retries for a bounded time, never duplicates.

Against a real redis-server that the test stops and starts again (``private_redis``,
with AOF), and through a TCP proxy that lets a script run but loses its reply, which
is how a restart looks to a client whose command had already reached the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from sluice import AsyncQueue, Queue, RedisUnavailable
from sluice_local.redis_server import RedisServer

Q = "outq"
OUTAGE_S = 2.0


def _restart_later(server: RedisServer, after: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(after), server.start()), daemon=True)
    thread.start()
    return thread


def test_enqueue_rides_out_a_two_second_restart(private_redis: RedisServer) -> None:
    queue = Queue(Q, private_redis.url, retry_for=30)
    queue.enqueue("t", id="before")
    private_redis.stop()
    restart = _restart_later(private_redis, OUTAGE_S)
    one = queue.enqueue("t")  # raised redis.ConnectionError before the retry
    many = queue.enqueue_many(("t", {"n": n}) for n in range(1200))  # three batches
    restart.join(30)
    stats = queue.stats()
    assert stats.counters.enqueued == 1 + 1 + 1200
    assert stats.backlog == 1 + 1 + 1200
    assert queue.get(one) is not None
    assert len(set(many)) == 1200


async def test_async_enqueue_rides_out_a_restart(private_redis: RedisServer) -> None:
    async with AsyncQueue(Q, private_redis.url, retry_for=30) as queue:
        await queue.enqueue("t", id="before")
        private_redis.stop()
        restart = _restart_later(private_redis, OUTAGE_S)
        ids = await asyncio.gather(*(queue.enqueue("t", {"n": n}) for n in range(50)))
        many = await queue.enqueue_many(("t", None) for _ in range(600))
        await asyncio.to_thread(restart.join, 30)
        stats = await queue.stats()
    assert stats.backlog == 1 + 50 + 600
    assert len(set(ids) | set(many)) == 650


def test_past_the_window_a_sluice_error_names_the_unsure_ids(private_redis: RedisServer) -> None:
    queue = Queue(Q, private_redis.url, retry_for=1)
    private_redis.stop()
    started = time.monotonic()
    with pytest.raises(RedisUnavailable) as err:
        queue.enqueue("t", id="job-1")
    assert time.monotonic() - started < 20  # the window plus at most one connect attempt
    assert err.value.job_ids == ["job-1"]
    assert f"enqueue to queue {Q!r}: Redis unreachable, retried for 1s" in str(err.value)
    assert "job-1" in str(err.value)
    assert isinstance(err.value.__cause__, redis.exceptions.ConnectionError)
    private_redis.start()
    queue.enqueue("t", id="job-1")  # the advice holds: again with the same id
    assert queue.stats().counters.enqueued == 1


def test_enqueue_many_says_which_batches_are_stored(private_redis: RedisServer) -> None:
    queue = Queue(Q, private_redis.url, retry_for=0.5)
    stop_after_first = iter(range(10**6))

    def jobs() -> Iterator[tuple[str, None]]:
        for n in stop_after_first:
            if n == 500:  # the first batch has gone; Redis leaves before the second
                private_redis.stop()
            yield ("t", None)
            if n == 999:
                return

    with pytest.raises(RedisUnavailable) as err:
        queue.enqueue_many(jobs())
    assert len(err.value.stored) == 500
    assert len(err.value.job_ids) == 500
    private_redis.start()
    assert queue.stats().counters.enqueued == 500


class ReplyLosingProxy:
    """TCP proxy to Redis that, while ``losing``, runs scripts but drops their replies."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.losing_until = 0.0
        self.lost = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream))
            sent_script = threading.Event()
            threading.Thread(
                target=self._up, args=(client, server, sent_script), daemon=True
            ).start()
            threading.Thread(
                target=self._down, args=(server, client, sent_script), daemon=True
            ).start()

    @staticmethod
    def _up(src: socket.socket, dst: socket.socket, sent_script: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if b"EVALSHA" in data.upper():
                    sent_script.set()
                dst.sendall(data)
        dst.close()

    def _down(self, src: socket.socket, dst: socket.socket, sent_script: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if sent_script.is_set() and time.monotonic() < self.losing_until:
                    self.lost += 1  # the script ran; its caller never hears of it
                    break
                dst.sendall(data)
        for sock in (src, dst):  # shutdown, not just close: it wakes the other pump's recv
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


@pytest.fixture
def proxy(private_redis: RedisServer) -> Iterator[ReplyLosingProxy]:
    p = ReplyLosingProxy(private_redis.port)
    yield p
    p.close()


def test_a_lost_reply_is_retried_without_a_duplicate(
    private_redis: RedisServer, proxy: ReplyLosingProxy
) -> None:
    Queue(Q, private_redis.url).enqueue("t", id="warm")  # the server learns the script
    queue = Queue(Q, f"redis://127.0.0.1:{proxy.port}/0", retry_for=30)
    proxy.losing_until = time.monotonic() + OUTAGE_S
    job_id = queue.enqueue("t")  # raised ConnectionError, with the job stored, before
    assert proxy.lost >= 2  # the script ran more than once...
    direct = Queue(Q, private_redis.url)
    assert direct.stats().counters.enqueued == 2  # ...and stored the job once
    assert direct.stats().backlog == 2
    assert direct.get(job_id) is not None
