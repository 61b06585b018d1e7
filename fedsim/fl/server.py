"""The FL server as an aiohttp application: a small pull-based HTTP API.

    POST /v1/register   JSON {client_id, num_examples, device}     -> 200 JSON
    GET  /v1/task       ?client_id=..&wait=s  (long poll)           -> 200 envelope | 204 | 410
    POST /v1/update     envelope; headers X-Fedsim-Client, X-Fedsim-Round -> 200 JSON
    GET  /v1/status                                                -> 200 JSON

Every mistake gets a 4xx with a JSON `{"error": reason}` and changes nothing:
unknown clients (404), stale or duplicate uploads (409), malformed, mis-shaped or
non-finite models (400), oversize bodies (413). Cheap checks run on the headers
before the body is read.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from fedsim.fl.engine import Engine
from fedsim.fl.messages import ClientInfo
from fedsim.fl.service import accept_update, register_client, task_envelope

__all__ = ["CLIENT_HEADER", "ENGINE", "ROUND_HEADER", "make_app", "told_finished"]

log = logging.getLogger(__name__)

ENGINE = web.AppKey("engine", Engine)
SETTINGS = web.AppKey("settings", dict)
CLIENT_HEADER = "X-Fedsim-Client"
ROUND_HEADER = "X-Fedsim-Round"


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason, "status": status}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn aiohttp's own HTTP errors (413, 405, 404 route) into JSON reasons."""
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason or exc.text or "error")


def _client(request: web.Request, cid: str | None) -> ClientInfo:
    engine = request.app[ENGINE]
    if not cid:
        raise web.HTTPBadRequest(reason="missing client id")
    info = engine.clients.get(cid)
    if info is None:
        raise web.HTTPNotFound(reason=f"unknown client {cid!r}: register first")
    return info


async def register(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "body is not valid JSON")
    outcome, cid = register_client(request.app[ENGINE], body)
    if not outcome.ok:
        return _error(outcome.status, outcome.reason)
    return web.json_response({"client_id": cid, "poll_wait": request.app[SETTINGS]["poll_wait"]})


async def task(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    settings = request.app[SETTINGS]
    info = _client(request, request.query.get("client_id"))
    try:
        wait = min(float(request.query.get("wait", settings["poll_wait"])), settings["poll_wait"])
    except ValueError:
        return _error(400, "wait must be a number of seconds")
    ins = None if engine.finished else await engine.poll(info.client_id, max(0.0, wait))
    if engine.finished:
        settings["told_finished"].add(info.client_id)
        return _error(410, "the federation is finished")
    if ins is None:
        return web.Response(status=204)
    envelope = task_envelope(engine, ins, settings["codec_down"])
    if envelope is None:
        return web.Response(status=204)
    return web.Response(body=envelope, content_type="application/octet-stream")


async def update(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    info = _client(request, request.headers.get(CLIENT_HEADER))
    try:
        server_round = int(request.headers.get(ROUND_HEADER, ""))
    except ValueError:
        return _error(400, f"missing or bad {ROUND_HEADER} header")
    stale = engine.precheck(info.client_id, server_round)
    if stale is not None:
        return _error(409, stale)
    try:
        body = await request.read()
    except (ConnectionError, OSError):
        engine.note_aborted(info.client_id, server_round)
        raise
    outcome = accept_update(engine, info.client_id, server_round, body)
    if not outcome.ok:
        return _error(outcome.status, outcome.reason)
    return web.json_response({"accepted": True, "round": server_round})


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[ENGINE].status())


def make_app(
    engine: Engine,
    *,
    poll_wait_s: float = 30.0,
    codec_down: str = "float32",
    max_body_bytes: int | None = None,
) -> web.Application:
    """The server application around a round engine (the engine runs separately)."""
    limit = max_body_bytes if max_body_bytes is not None else 8 * engine.params.nbytes + 65536
    app = web.Application(middlewares=[json_errors], client_max_size=limit)
    app[ENGINE] = engine
    app[SETTINGS] = {"poll_wait": poll_wait_s, "codec_down": codec_down, "told_finished": set()}
    app.router.add_post("/v1/register", register)
    app.router.add_get("/v1/task", task)
    app.router.add_post("/v1/update", update)
    app.router.add_get("/v1/status", status)
    return app


def told_finished(app: web.Application) -> set[str]:
    """Clients that have been answered 410 Gone (they stop on it)."""
    told: set[str] = app[SETTINGS]["told_finished"]
    return told
