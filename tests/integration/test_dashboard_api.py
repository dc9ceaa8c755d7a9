"""The dashboard's JSON API and event streams against a real redis-server (aiohttp test client)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from dashboard_helpers import MemoryControl, tick

from sluice import Queue
from sluice.connection import connect
from sluice.protocol import Outcome
from sluice_dashboard import command
from sluice_dashboard.control import ScalingControl
from sluice_dashboard.decisions import DecisionLog
from sluice_dashboard.hub import Hub
from sluice_dashboard.server import HUB_KEY, make_app
from sluice_dashboard.settings import DashboardSettings
from sluice_dashboard.sources import RedisQueues

TOKEN = "s3cret-token-of-the-test"
SCHEMA = json.loads(
    (Path(command.__file__).parent / "static" / "openapi.json").read_text()
)  # the published schema, checked against real answers below
MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


def conforms(body: Any, schema_name: str) -> None:
    schema = {**SCHEMA, "$ref": f"#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema).validate(body)


@pytest.fixture
async def make_client(redis_url: str) -> AsyncIterator[MakeClient]:
    made: list[tuple[TestClient[Any, Any], Hub, Any]] = []

    async def make(
        settings: DashboardSettings | None = None,
        decisions: DecisionLog | None = None,
        control: ScalingControl | None = None,
        live: bool = False,
    ) -> TestClient[Any, Any]:
        settings = settings or DashboardSettings(poll_interval_s=0.1, discover_every_s=0.2)
        client = connect(redis_url, async_=True)
        hub = Hub(RedisQueues(client, settings.queues), settings, decisions, control)
        await hub.refresh()
        if live:
            hub.start()
        test_client: TestClient[Any, Any] = TestClient(TestServer(make_app(hub, settings)))
        await test_client.start_server()
        made.append((test_client, hub, client))
        return test_client

    yield make
    for test_client, hub, client in made:
        await hub.stop()
        await test_client.close()
        await client.aclose()


@pytest.fixture
def queue(redis_url: str) -> Queue:
    q = Queue("mail", redis_url)
    yield q  # type: ignore[misc]
    q.close()


def dead_letter(queue: Queue, job_id: str, error: str = "Traceback: KeyError") -> None:
    queue.enqueue("send", {"to": "ann@example.com"}, id=job_id, max_attempts=1)
    (job,) = queue.protocol.claim("w1", 1, 30)
    queue.protocol.finish([Outcome(job.id, job.token, "fail", error=error, reason="KeyError")])


async def test_overview_lists_every_queue_with_its_figures(
    make_client: MakeClient, queue: Queue, redis_url: str
) -> None:
    queue.enqueue_many(("send", i) for i in range(3))
    with Queue("reports", redis_url) as other:
        other.enqueue("build", delay=60)
    client = await make_client()
    response = await client.get("/api/queues")
    assert response.status == 200
    body = await response.json()
    conforms(body, "Overview")
    rows = {q["name"]: q for q in body["queues"]}
    assert sorted(rows) == ["mail", "reports"]
    assert (rows["mail"]["sample"]["backlog"], rows["reports"]["sample"]["delayed"]) == (3, 1)
    assert rows["mail"]["condition"] == {"level": "warn", "text": "jobs waiting, no workers"}


async def test_a_queue_created_after_the_scan_is_found_by_name(
    make_client: MakeClient, redis_url: str
) -> None:
    client = await make_client(DashboardSettings(discover_every_s=3600))
    assert (await client.get("/api/queues/late")).status == 404
    with Queue("late", redis_url) as late:
        late.enqueue("t")
    response = await client.get("/api/queues/late")
    assert response.status == 200
    body = await response.json()
    conforms(body, "QueueDetail")
    assert body["stats"]["ready"]["normal"] == 1


async def test_jobs_by_state_with_paging(make_client: MakeClient, queue: Queue) -> None:
    queue.enqueue_many({"task": "send", "id": f"n{i}"} for i in range(4))
    queue.enqueue("send", id="vip", priority="critical")
    client = await make_client()
    first = await (await client.get("/api/queues/mail/jobs?state=waiting&limit=2")).json()
    conforms(first, "JobPage")
    assert ([j["id"] for j in first["jobs"]], first["total"]) == (["vip", "n0"], 5)
    second = await (await client.get("/api/queues/mail/jobs?offset=2&limit=2")).json()
    assert [j["id"] for j in second["jobs"]] == ["n1", "n2"]
    normal = await (await client.get("/api/queues/mail/jobs?priority=normal&limit=10")).json()
    assert normal["total"] == 4


async def test_running_jobs_show_progress_and_dead_ones_reason_and_traceback(
    make_client: MakeClient, queue: Queue
) -> None:
    queue.enqueue("send", id="run")
    (job,) = queue.protocol.claim("w1", 1, 30)
    queue.protocol.progress("run", job.token, 55, "halfway")
    dead_letter(queue, "poison", error="Traceback (most recent call last):\n KeyError: 'to'")
    client = await make_client()
    active = await (await client.get("/api/queues/mail/jobs?state=active")).json()
    assert [(j["id"], j["progress"], j["progress_message"]) for j in active["jobs"]] == [
        ("run", 55, "halfway")
    ]
    dead = await (await client.get("/api/queues/mail/jobs?state=dead")).json()
    assert dead["jobs"][0]["dead_reason"] == "KeyError"
    assert "KeyError: 'to'" in dead["jobs"][0]["error"]


async def test_completed_jobs_page_by_cursor(make_client: MakeClient, queue: Queue) -> None:
    queue.enqueue_many({"task": "t", "id": f"c{i}"} for i in range(12))
    jobs = queue.protocol.claim("w", 12, 30)
    queue.protocol.finish([Outcome(j.id, j.token, "done", result=b"1") for j in jobs])
    client = await make_client()
    seen, cursor = [], 0
    for _ in range(100):
        page = await (
            await client.get(f"/api/queues/mail/jobs?state=completed&limit=5&cursor={cursor}")
        ).json()
        conforms(page, "JobPage")
        seen += [j["id"] for j in page["jobs"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(f"c{i}" for i in range(12))


async def test_one_job_hides_its_payload_unless_shown(
    make_client: MakeClient, queue: Queue
) -> None:
    queue.enqueue("send", {"to": "ann@example.com"}, id="j1")
    hidden = await (await (await make_client()).get("/api/queues/mail/jobs/j1")).json()
    conforms(hidden, "Job")
    assert "payload" not in hidden
    assert "ann@example.com" not in json.dumps(hidden)
    shown_client = await make_client(DashboardSettings(show_payloads=True))
    shown = await (await shown_client.get("/api/queues/mail/jobs/j1")).json()
    conforms(shown, "Job")
    assert shown["payload"] == {"to": "ann@example.com"}


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/queues/nope", 404, "no queue 'nope'"),
        ("/api/queues/nope/jobs", 404, "no queue"),
        ("/api/queues/nope/history", 404, "no queue"),
        ("/api/queues/nope/events", 404, "no queue"),
        ("/api/queues/mail/jobs/nobody", 404, "no job 'nobody'"),
        ("/api/queues/mail/jobs/" + "x" * 300, 400, "job_id:"),
        ("/api/queues/mail/jobs?offset=-1", 400, "offset:"),
        ("/api/queues/mail/jobs?limit=abc", 400, "limit:"),
        ("/api/queues/mail/jobs?limit=0", 400, "limit:"),
        ("/api/queues/mail/jobs?limit=501", 400, "limit:"),
        ("/api/queues/mail/jobs?offset=1e3", 400, "offset:"),
        ("/api/queues/mail/jobs?state=lost", 400, "state:"),
        ("/api/queues/mail/jobs?state=dead&priority=high", 400, "priority:"),
        ("/api/queues/mail/jobs?priority=urgent", 400, "priority:"),
        ("/api/queues/mail/jobs?cursor=x", 400, "cursor:"),
        ("/api/nothing-here", 404, "Not Found"),
    ],
)
async def test_bad_requests_get_a_json_error(
    make_client: MakeClient, queue: Queue, path: str, status: int, says: str
) -> None:
    queue.enqueue("send", id="j1")
    client = await make_client()
    response = await client.get(path)
    assert response.status == status
    body = await response.json()
    conforms(body, "Error")
    assert says in body["error"]["message"]


async def test_actions_are_refused_unless_allowed(make_client: MakeClient, queue: Queue) -> None:
    dead_letter(queue, "d1")
    client = await make_client()
    for path in ("jobs/d1/requeue", "jobs/d1/cancel", "dead/purge", "dead/requeue"):
        response = await client.post(f"/api/queues/mail/{path}")
        assert response.status == 403
        assert "--allow-actions" in (await response.json())["error"]["message"]
    assert queue.stats().dead == 1


async def test_requeue_cancel_and_purge(make_client: MakeClient, queue: Queue) -> None:
    dead_letter(queue, "d1")
    dead_letter(queue, "d2")
    queue.enqueue("send", id="w1")
    client = await make_client(DashboardSettings(allow_actions=True))
    response = await client.post("/api/queues/mail/jobs/d1/requeue")
    body = await response.json()
    assert response.status == 200, body
    conforms(body, "JobAction")
    assert (body["requeued"], body["job"]["state"], body["job"]["attempts"]) == (1, "waiting", 0)
    again = await client.post("/api/queues/mail/jobs/d1/requeue")
    assert again.status == 409
    assert "not a dead letter" in (await again.json())["error"]["message"]

    cancelled = await (await client.post("/api/queues/mail/jobs/w1/cancel")).json()
    assert (cancelled["cancelled"], cancelled["job"]["state"]) == (True, "cancelled")
    assert (await client.post("/api/queues/mail/jobs/w1/cancel")).status == 409
    assert (await client.post("/api/queues/mail/jobs/ghost/cancel")).status == 404

    assert await (await client.post("/api/queues/mail/dead/purge")).json() == {"purged": 1}
    assert queue.get("d2") is None
    assert queue.stats().dead == 0


async def test_actions_need_the_bearer_token_when_one_is_set(
    make_client: MakeClient, queue: Queue
) -> None:
    dead_letter(queue, "d1")
    client = await make_client(DashboardSettings(allow_actions=True, token=TOKEN))
    missing = await client.post("/api/queues/mail/jobs/d1/requeue")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await client.post(
        "/api/queues/mail/jobs/d1/requeue", headers={"Authorization": "Bearer " + "x" * 24}
    )
    assert wrong.status == 403
    assert queue.stats().dead == 1
    right = await client.post(
        "/api/queues/mail/jobs/d1/requeue", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert right.status == 200
    assert queue.stats().dead == 0
    # Reads stay open; the token never shows.
    config = await (await client.get("/api/config")).json()
    conforms(config, "Config")
    assert config["token_required"] is True
    assert TOKEN not in json.dumps(config)


async def test_a_body_over_the_limit_is_refused(make_client: MakeClient, queue: Queue) -> None:
    dead_letter(queue, "d1")
    client = await make_client(DashboardSettings(allow_actions=True, max_body_bytes=1024))
    response = await client.post("/api/queues/mail/jobs/d1/requeue", data=b"x" * 5000)
    assert response.status == 413
    assert "1024 bytes" in (await response.json())["error"]["message"]
    assert queue.stats().dead == 1


async def test_cross_site_posts_and_foreign_host_names_are_refused(
    make_client: MakeClient, queue: Queue
) -> None:
    dead_letter(queue, "d1")
    client = await make_client(DashboardSettings(allow_actions=True))
    cross = await client.post(
        "/api/queues/mail/jobs/d1/requeue", headers={"Origin": "https://evil.example"}
    )
    assert cross.status == 403
    rebound = await client.get("/api/queues", headers={"Host": "evil.example:8089"})
    assert rebound.status == 403
    assert queue.stats().dead == 1


async def test_pause_and_resume_go_to_the_scaling_control(
    make_client: MakeClient, queue: Queue
) -> None:
    queue.enqueue("t", delay=60)
    control = MemoryControl("mail")
    client = await make_client(DashboardSettings(allow_actions=True), control=control)
    assert (await (await client.post("/api/queues/mail/scaling/pause")).json())["paused"] is True
    assert control.state["mail"] is True
    summary = await (await client.get("/api/queues/mail")).json()
    assert summary["summary"]["paused"] is True
    assert summary["summary"]["condition"]["text"] == "scaling paused"
    await client.post("/api/queues/mail/scaling/resume")
    assert control.state["mail"] is False

    unmanaged = await make_client(DashboardSettings(allow_actions=True))
    response = await unmanaged.post("/api/queues/mail/scaling/pause")
    assert response.status == 409
    assert "nothing here scales" in (await response.json())["error"]["message"]


async def test_history_and_events_carry_the_decisions(
    make_client: MakeClient, queue: Queue
) -> None:
    queue.enqueue("t")
    decisions = DecisionLog()
    decisions.record("mail", tick("backlog", 0, 3, "backlog 40 drained in 10 s", backlog=40.0))
    client = await make_client(decisions=decisions, live=True)
    history = await (await client.get("/api/queues/mail/history")).json()
    conforms(history, "History")
    assert [(d["term"], d["replicas"], d["target"]) for d in history["decisions"]] == [
        ("backlog", 0, 3)
    ]
    assert history["decisions"][0]["numbers"] == {"backlog": 40.0}

    async with client.get("/api/queues/mail/events") as stream:
        decisions.record("mail", tick("stabilization", 3, 2, inf=float("inf")))
        event = await next_event(stream, "decision")
    conforms(event, "Decision")
    assert (event["term"], event["target"], event["numbers"]) == ("stabilization", 2, {})


async def next_event(stream: Any, name: str, deadline_s: float = 10.0) -> Any:
    """The data of the next event called ``name`` (a deadline guards against a hang)."""
    event = None
    async with asyncio.timeout(deadline_s):
        while True:
            line = (await stream.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == name:
                return json.loads(line[6:])


async def test_a_job_enqueued_now_reaches_open_streams(
    make_client: MakeClient, queue: Queue
) -> None:
    queue.enqueue("t")
    client = await make_client(live=True)
    async with client.get("/api/queues/mail/events") as stream, client.get("/api/events") as ov:
        assert stream.headers["Content-Type"] == "text/event-stream"
        first = await next_event(stream, "summary")
        conforms(first, "QueueSummary")
        queue.enqueue_many(("t", i) for i in range(4))
        for _ in range(100):
            summary = await next_event(stream, "summary")
            if summary["sample"]["enqueued"] == 5:
                break
        assert summary["sample"]["backlog"] == 5
        for _ in range(100):
            overview = await next_event(ov, "overview")
            if overview["queues"][0]["sample"]["backlog"] == 5:
                break
        conforms(overview, "Overview")


async def test_one_poller_serves_every_open_page(
    make_client: MakeClient, queue: Queue, redis_client: redis.Redis
) -> None:
    """Five open pages cost the same Redis reads as none: one stats call per queue per poll."""
    queue.enqueue("t")
    client = await make_client(DashboardSettings(poll_interval_s=0.1, discover_every_s=3600))
    app_hub = client.server.app[HUB_KEY]
    streams = [await client.get("/api/queues/mail/events").__aenter__() for _ in range(5)]
    try:
        calls_before = _evalsha_calls(redis_client)
        for _ in range(10):
            await app_hub.refresh()
        calls = _evalsha_calls(redis_client) - calls_before
        assert calls == 10  # one queue: one stats script call per poll, whatever the pages
        for s in streams:  # each page got every poll's summary (the first, then ten)
            summaries = [await next_event(s, "summary") for _ in range(11)]
            assert len({x["sample"]["at"] for x in summaries}) >= 10
    finally:
        for s in streams:
            s.close()


def _evalsha_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval")
    )


async def test_credentials_never_appear(redis_url: str, make_client: MakeClient) -> None:
    with_password = redis_url.replace("redis://", "redis://admin:hunter2@")
    settings = command.settings_from(command_args(redis_url=with_password), with_password)
    client = await make_client(settings)
    for path in ("/api/config", "/api/queues", "/"):
        text = await (await client.get(path)).text()
        assert "hunter2" not in text
    assert (await (await client.get("/api/config")).json())["redis"].startswith("redis://***@")


def command_args(**overrides: Any) -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_the_command_refuses_actions_on_an_open_address_without_a_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sluice.cli import main

    code = main(["dashboard", "--host", "0.0.0.0", "--allow-actions", "--port", "0"])
    assert code == 2
    assert "needs a token" in capsys.readouterr().err


def test_the_command_says_when_redis_is_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    from sluice.cli import main

    code = main(["dashboard", "--redis-url", "redis://u:pw@127.0.0.1:1/0", "--port", "0"])
    assert code == 3
    err = capsys.readouterr().err
    assert "cannot reach Redis at redis://***@127.0.0.1:1/0" in err
    assert "pw" not in err.replace("redis://***@", "")


async def test_named_queues_are_the_only_ones_shown(
    make_client: MakeClient, queue: Queue, redis_url: str
) -> None:
    queue.enqueue("t")
    with Queue("other", redis_url) as other:
        other.enqueue("t")
    client = await make_client(DashboardSettings(queues=("mail", "not-yet")))
    body = await (await client.get("/api/queues")).json()
    assert [q["name"] for q in body["queues"]] == ["mail", "not-yet"]  # named: shown before a job
    assert (await client.get("/api/queues/other")).status == 404


async def test_a_purged_queue_leaves_the_overview(make_client: MakeClient, queue: Queue) -> None:
    queue.enqueue("t")
    client = await make_client()
    hub = client.server.app[HUB_KEY]
    assert list(hub.tracks) == ["mail"]
    queue.purge()
    await hub.discover()
    assert (await (await client.get("/api/queues")).json())["queues"] == []
    assert (await client.get("/api/queues/mail")).status == 404
