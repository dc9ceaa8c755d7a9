"""The JSON HTTP API and its event streams (schema: ``/api/openapi.json``).

Reads go through the hub (what it polled) or straight to the queue library
(job pages, one job). Paging parameters are checked strictly: a malformed or
out-of-range value is a 400 naming the parameter, never a traceback. Unknown
queues and jobs are 404s with a JSON error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from sluice import __version__
from sluice.browse import PageRequest, listed_state
from sluice.jobinfo import JobInfo
from sluice.protocol.keys import check_job_id
from sluice.stats import Priority

from .control import NotManaged
from .guard import ApiError, check_action
from .hub import OVERVIEW, Hub, Subscription, Track, sse
from .settings import DashboardSettings
from .views import job_json, jobs_json, stats_json

STATIC = Path(__file__).parent / "static"
KEEPALIVE_S = 15.0  # a comment line on an idle stream keeps proxies from closing it
HISTORY_DECISIONS = 500  # decisions sent with a queue's history
_WHOLE = re.compile(r"\d{1,12}")


def whole(query: Mapping[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not _WHOLE.fullmatch(value):
        raise ApiError(400, f"{name}: expected a whole number >= 0, got {value[:40]!r}")
    return int(value)


def page_request(query: Mapping[str, str]) -> PageRequest:
    try:
        priority = query.get("priority")
        return PageRequest(
            state=listed_state(query.get("state", "waiting")),
            priority=Priority.parse(priority) if priority else None,
            offset=whole(query, "offset", 0),
            limit=whole(query, "limit", 50),
            cursor=whole(query, "cursor", 0),
        )
    except ValueError as exc:
        message = str(exc)
        raise ApiError(400, message if ":" in message else f"priority: {message}") from None


class Api:
    def __init__(self, hub: Hub, settings: DashboardSettings) -> None:
        self.hub, self.settings = hub, settings

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/", self.index)
        r.add_static("/static/", STATIC, append_version=False)
        r.add_get("/api/openapi.json", self.openapi)
        r.add_get("/api/config", self.config)
        r.add_get("/api/queues", self.queues)
        r.add_get("/api/events", self.overview_events)
        q = "/api/queues/{queue}"
        r.add_get(q, self.queue)
        r.add_get(q + "/history", self.history)
        r.add_get(q + "/events", self.queue_events)
        r.add_get(q + "/jobs", self.jobs)
        r.add_get(q + "/jobs/{job_id}", self.job)
        r.add_post(q + "/jobs/{job_id}/requeue", self.requeue)
        r.add_post(q + "/jobs/{job_id}/cancel", self.cancel)
        r.add_post(q + "/dead/requeue", self.requeue_all)
        r.add_post(q + "/dead/purge", self.purge_dead)
        r.add_post(q + "/scaling/pause", self.pause)
        r.add_post(q + "/scaling/resume", self.resume)

    # --- pages and metadata ----------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "openapi.json")

    async def config(self, request: web.Request) -> web.Response:
        s = self.settings
        return web.json_response({
            "version": __version__, "redis": s.redis_label,
            "allow_actions": s.allow_actions, "token_required": s.token_required,
            "show_payloads": s.show_payloads, "poll_interval_s": s.poll_interval_s,
            "decisions": self.hub.decisions is not None,
            "scaling_control": self.hub.control is not None,
        })  # fmt: skip

    # --- reads -----------------------------------------------------------------

    async def track(self, request: web.Request) -> Track:
        name = request.match_info["queue"]
        track = await self.hub.find(name)
        if track is None:
            raise ApiError(404, f"no queue {name[:200]!r} here")
        return track

    async def queues(self, request: web.Request) -> web.Response:
        return web.json_response(self.hub.overview())

    async def queue(self, request: web.Request) -> web.Response:
        track = await self.track(request)
        settings = await track.queue.settings()
        return web.json_response({
            "summary": self.hub.summary(track),
            "stats": stats_json(track.stats) if track.stats else None,
            "settings": dataclasses.asdict(settings),
        })  # fmt: skip

    async def history(self, request: web.Request) -> web.Response:
        track = await self.track(request)
        decisions = self.hub.decisions
        recent = decisions.recent(track.name, limit=HISTORY_DECISIONS) if decisions else []
        return web.json_response({
            "queue": track.name,
            "samples": track.history.to_json(),
            "decisions": [d.to_json() for d in recent],
        })  # fmt: skip

    async def jobs(self, request: web.Request) -> web.Response:
        track = await self.track(request)
        req = page_request(request.query)
        page = await track.queue.jobs(req)
        return web.json_response({
            "queue": track.name, "state": page.state, "priority":
            req.priority.name.lower() if req.priority is not None else None,
            "total": page.total, "offset": page.offset, "limit": req.limit,
            "next_cursor": page.next_cursor,
            "jobs": jobs_json(page.jobs, show_payloads=self.settings.show_payloads),
        })  # fmt: skip

    async def found_job(self, track: Track, request: web.Request) -> JobInfo:
        job_id = request.match_info["job_id"]
        try:
            check_job_id(job_id)
        except ValueError as exc:
            raise ApiError(400, f"job_id: {exc}") from None
        job = await track.queue.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id!r} in queue {track.name!r} (finished jobs expire)")
        return job

    async def job(self, request: web.Request) -> web.Response:
        track = await self.track(request)
        job = await self.found_job(track, request)
        return web.json_response(job_json(job, show_payloads=self.settings.show_payloads))

    # --- actions ---------------------------------------------------------------

    async def action_track(self, request: web.Request) -> Track:
        await check_action(request, self.settings)
        return await self.track(request)

    async def job_reply(self, track: Track, job_id: str, **extra: Any) -> web.Response:
        job = await track.queue.get(job_id)
        shown = job_json(job, show_payloads=self.settings.show_payloads) if job else None
        return web.json_response({**extra, "job": shown})

    async def requeue(self, request: web.Request) -> web.Response:
        track = await self.action_track(request)
        job = await self.found_job(track, request)
        if job.state != "dead":
            raise ApiError(409, f"job {job.id!r} is {job.state}, not a dead letter")
        n = await track.queue.requeue_dead(job.id)
        return await self.job_reply(track, job.id, requeued=n)

    async def cancel(self, request: web.Request) -> web.Response:
        track = await self.action_track(request)
        job = await self.found_job(track, request)
        if not await track.queue.cancel(job.id):
            raise ApiError(409, f"job {job.id!r} is {job.state}: nothing to cancel")
        return await self.job_reply(track, job.id, cancelled=True)

    async def requeue_all(self, request: web.Request) -> web.Response:
        track = await self.action_track(request)
        return web.json_response({"requeued": await track.queue.requeue_dead()})

    async def purge_dead(self, request: web.Request) -> web.Response:
        track = await self.action_track(request)
        return web.json_response({"purged": await track.queue.purge_dead()})

    async def pause(self, request: web.Request) -> web.Response:
        return await self.set_paused(request, paused=True)

    async def resume(self, request: web.Request) -> web.Response:
        return await self.set_paused(request, paused=False)

    async def set_paused(self, request: web.Request, *, paused: bool) -> web.Response:
        track = await self.action_track(request)
        control = self.hub.control
        try:
            if control is None:
                raise NotManaged(track.name)
            await asyncio.to_thread(control.set_paused, track.name, paused)
        except NotManaged:
            raise ApiError(409, f"nothing here scales queue {track.name!r}") from None
        return web.json_response({"queue": track.name, "paused": paused})

    # --- live ------------------------------------------------------------------

    async def overview_events(self, request: web.Request) -> web.StreamResponse:
        return await self.stream(request, OVERVIEW, sse("overview", self.hub.overview()))

    async def queue_events(self, request: web.Request) -> web.StreamResponse:
        track = await self.track(request)
        return await self.stream(request, track.name, sse("summary", self.hub.summary(track)))

    async def stream(self, request: web.Request, topic: str, first: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx ingress: pass events through at once
        })  # fmt: skip
        await response.prepare(request)
        sub = self.hub.subscribe(topic)
        try:
            await response.write(b"retry: 2000\n\n" + first)
            await self.pump(response, sub)
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        finally:
            self.hub.unsubscribe(sub)
        return response

    async def pump(self, response: web.StreamResponse, sub: Subscription) -> None:
        while True:
            try:
                message = await asyncio.wait_for(sub.messages.get(), KEEPALIVE_S)
            except TimeoutError:
                message = b": keep-alive\n\n"
            if not message:  # the server is stopping
                return
            await response.write(message)
