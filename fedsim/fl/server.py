"""The FL server as an aiohttp application: a small pull-based HTTP API.

    POST /v1/register   JSON {client_id, num_examples, device}     -> 200 JSON
                        + X-Fedsim-Wait: s  -> 200 head at once, body: as for an update
    GET  /v1/task       ?client_id=..&wait=s  (long poll)           -> 200 envelope | 204 | 410
    POST /v1/update     envelope; headers X-Fedsim-Client, X-Fedsim-Round -> 200 JSON
                        + X-Fedsim-Wait: s  -> 200 head at once, body: next task | empty
                                               | JSON 410 reason (finished)
    GET  /v1/status                          (operator token)      -> 200 JSON
    GET  /v1/openapi.json                    (public)              -> 200 OpenAPI 3.1

Every field is validated against the declared schema (fedsim.fl.wire_schema)
before any arithmetic. Every mistake gets a 4xx with a JSON `{"error": reason}`
and changes nothing: unknown clients (404), stale uploads or a second update for a
round (409; an upload too late to count, for a round that has its reports, is closed
or is over, says `"late": true`: not wrong, so its device polls again at once),
malformed, out-of-range, mis-shaped or non-finite values (400), bad credentials
(401, fedsim.fl.auth), oversize bodies (413), compressed bodies (415), too many
registrations (429). Cheap checks run on the headers before the body is read.
The very upload already accepted (the same body bytes, for the same round), sent again
because its answer was lost, is acknowledged again as the first was (200, the same
answer) and counted nowhere again (fedsim.fl.service.accept_update).

An upload may ask for its next task on the same answer (X-Fedsim-Wait), and a
registration for its first: the answer's head, sent as soon as the update is stored
(the client registered), is the acknowledgement, and its chunked body is the long
poll (or, once the federation is over, the JSON reason a poll's 410 would give). A
device then makes one exchange per round instead of an upload and a poll:
fewer request heads and round trips on a slow radio, and nothing acknowledged depends
on the long poll (a broken body loses only the task offer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from aiohttp import web

from fedsim.fl.auth import authenticated_as
from fedsim.fl.engine import Engine
from fedsim.fl.messages import ClientInfo
from fedsim.fl.service import accept_update, task_envelope
from fedsim.fl.wire_limits import REGISTER_MAX_BYTES, Identities, read_bounded
from fedsim.fl.wire_schema import (
    RegisterRequest,
    TaskQuery,
    WireError,
    check,
    check_upload_headers,
    check_wait_header,
    loads,
    openapi,
)

__all__ = [
    "ACCEPTED_HEADER",
    "CLIENT_HEADER",
    "ENGINE",
    "REGISTERED_HEADER",
    "ROUND_HEADER",
    "WAIT_HEADER",
    "make_app",
    "told_finished",
]

log = logging.getLogger(__name__)

ENGINE = web.AppKey("engine", Engine)
SETTINGS = web.AppKey("settings", dict)
CLIENT_HEADER = "X-Fedsim-Client"
ROUND_HEADER = "X-Fedsim-Round"
WAIT_HEADER = "X-Fedsim-Wait"
ACCEPTED_HEADER = "X-Fedsim-Accepted"
REGISTERED_HEADER = "X-Fedsim-Registered"


FINISHED = "the federation is finished"


def _error_body(status: int, reason: str, late: bool = False) -> dict[str, Any]:
    """An ErrorReply (fedsim.fl.wire_schema); `late` only when true (absent: false)."""
    body: dict[str, Any] = {"error": reason, "status": status}
    if late:
        body["late"] = True
    return body


def _error(status: int, reason: str, late: bool = False) -> web.Response:
    return web.json_response(_error_body(status, reason, late), status=status)


FINISHED_BODY = json.dumps(_error_body(410, FINISHED)).encode()
"""An offer's body when the federation is over: what a poll's 410 says (an envelope
starts with b"FSM1")."""


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error is a JSON reason: aiohttp's own (413, 405, 404 route), a compressed
    body (415: the API takes none), and, as a last resort, anything unforeseen (500,
    logged; the server goes on)."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return _error(415, f"Content-Encoding {encoding[:32]!r} is not accepted")
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason or exc.text or "error")
    except WireError as exc:
        return _error(400, str(exc))
    except (ConnectionError, TimeoutError, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return _error(500, "internal error (logged); nothing was changed")


def _client(request: web.Request, cid: str | None) -> ClientInfo:
    engine = request.app[ENGINE]
    if not cid:
        raise web.HTTPBadRequest(reason="missing client id")
    authenticated_as(request, cid)
    info = engine.clients.get(cid)
    if info is None:
        raise web.HTTPNotFound(reason=f"unknown client {cid!r}: register first")
    return info


async def register(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    body = await read_bounded(request, REGISTER_MAX_BYTES)
    req = check(RegisterRequest, loads(body), "register")
    wait = check_wait_header(dict(request.headers))
    authenticated_as(request, req.client_id)
    engine = request.app[ENGINE]
    if req.client_id not in engine.clients and len(engine.clients) >= settings["max_clients"]:
        return _error(429, f"the server holds its limit of {settings['max_clients']} clients")
    clash = settings["identities"].claim(req.client_id, req.instance)
    if clash is not None:
        return _error(409, clash)
    engine.register(ClientInfo(req.client_id, req.num_examples, req.device))
    if wait is not None:
        cid = req.client_id
        del body, req  # read: not kept through the long poll (every registered device's)
        return await _answer_then_task(request, cid, wait, {REGISTERED_HEADER: "1"})
    return web.json_response({"client_id": req.client_id, "poll_wait": settings["poll_wait"]})


async def _long_poll(request: web.Request, cid: str, wait_s: float) -> bytes | None:
    """The task envelope `cid` gets within `wait_s` (None: none; check `finished`)."""
    engine = request.app[ENGINE]
    settings = request.app[SETTINGS]
    settings["identities"].seen(cid)
    wait = max(0.0, min(wait_s, settings["poll_wait"]))
    ins = None if engine.finished else await engine.poll(cid, wait)
    if ins is None or engine.finished:
        return None
    return task_envelope(engine, ins, settings["codec_down"])


def _told_finished(request: web.Request, cid: str) -> bool:
    """The federation is over: `cid` is answered so (and stops), remembered here."""
    if not request.app[ENGINE].finished:
        return False
    request.app[SETTINGS]["told_finished"].add(cid)
    return True


async def task(request: web.Request) -> web.StreamResponse:
    query = check(TaskQuery, dict(request.query), "query")
    info = _client(request, query.client_id)
    envelope = await _long_poll(request, info.client_id, query.wait)
    if _told_finished(request, info.client_id):
        return _error(410, FINISHED)
    if envelope is None:
        return web.Response(status=204)
    return web.Response(body=envelope, content_type="application/octet-stream")


async def update(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    client, server_round, wait = check_upload_headers(dict(request.headers))
    info = _client(request, client)
    stale = engine.precheck(info.client_id, server_round)
    if stale is not None:  # every precheck reason means too late (Engine.precheck)
        return _error(409, stale, late=True)
    try:
        body = await read_bounded(request, request.app[SETTINGS]["max_body"])
    except (ConnectionError, OSError, TimeoutError):
        engine.note_aborted(info.client_id, server_round)
        raise
    outcome = accept_update(engine, info.client_id, server_round, body)
    if not outcome.ok:
        return _error(outcome.status, outcome.reason, outcome.late)
    if wait is not None:
        del body, outcome  # stored: not kept through the long poll (to the next task)
        accepted = {ACCEPTED_HEADER: str(server_round)}
        return await _answer_then_task(request, info.client_id, wait, accepted)
    # json.dumps({"accepted": True, "round": server_round}), without an encoder per reply
    return web.json_response(text=f'{{"accepted": true, "round": {server_round:d}}}')


async def _answer_then_task(
    request: web.Request, cid: str, wait_s: float, head: dict[str, str]
) -> web.StreamResponse:
    """Answer a registration or a stored update with the head alone (carrying `head`),
    then long-poll on the body for `cid`'s next task."""
    answer = web.StreamResponse(headers={**head, "Content-Type": "application/octet-stream"})
    answer.enable_chunked_encoding()
    await answer.prepare(request)  # the head leaves now: the request is answered
    try:
        envelope = await _long_poll(request, cid, wait_s)
    except (ConnectionError, TimeoutError, asyncio.CancelledError):
        raise
    except Exception:  # the head is out: no error answer can follow it, only no task
        log.exception("unexpected error in the task offer to %s", cid)
        envelope = None
    if envelope is None and _told_finished(request, cid):
        envelope = FINISHED_BODY  # so no poll needs to ask
    # Reset meanwhile (a path broke, or the run ended): nobody to tell, and aiohttp sees
    # the reset when it finishes the response. Raised, the error would reach aiohttp's
    # `handle_error`, whose own ConnectionError, its traceback and the handler's task
    # form a cycle holding the whole connection until a cyclic collection (none during
    # a run): ~10 KB a device at the end of every run.
    with contextlib.suppress(ConnectionError):
        await answer.write_eof(envelope or b"")  # empty: no task within the wait
    return answer


async def status(request: web.Request) -> web.Response:
    state = request.app[ENGINE].status()
    return web.json_response(
        {k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in state.items()}
    )


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi())


def make_app(
    engine: Engine,
    *,
    poll_wait_s: float = 30.0,
    codec_down: str = "float32",
    max_body_bytes: int | None = None,
    max_clients: int = 100_000,
    middlewares: Sequence[Any] = (),
) -> web.Application:
    """The server application around a round engine (the engine runs separately).

    `middlewares` run inside the JSON error wrapper (device authentication);
    `max_clients` bounds registrations (429 beyond)."""
    limit = max_body_bytes if max_body_bytes is not None else 8 * engine.params.nbytes + 65536
    app = web.Application(middlewares=[json_errors, *middlewares], client_max_size=limit)
    app[ENGINE] = engine
    app[SETTINGS] = {
        "poll_wait": poll_wait_s,
        "codec_down": codec_down,
        "told_finished": set(),
        "max_clients": max_clients,
        "identities": Identities(2.0 * poll_wait_s + 5.0),
        "max_body": limit,
    }
    app.router.add_post("/v1/register", register)
    app.router.add_get("/v1/task", task)
    app.router.add_post("/v1/update", update)
    app.router.add_get("/v1/status", status)
    app.router.add_get("/v1/openapi.json", openapi_document)
    return app


def told_finished(app: web.Application) -> set[str]:
    """Clients that have been answered 410 Gone (they stop on it)."""
    told: set[str] = app[SETTINGS]["told_finished"]
    return told
