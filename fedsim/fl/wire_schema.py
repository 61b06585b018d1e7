"""The HTTP API's declared schema: every field a request or a task may carry, bounded.

One typed world with `fedsim.config`: pydantic models, strict types, declared
bounds. The server validates every request against these models before any
arithmetic touches a value (an int of 10**400, a float of 1e400, a string `lo`,
30,000 nested brackets all end as a 400 with a reason), the client validates every
task the same way before it trains, and `openapi()` publishes the same models as
an OpenAPI document (`fedsim serve --openapi`, docs/openapi.json).
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

__all__ = [
    "MAX_EXAMPLES",
    "MAX_JSON_DEPTH",
    "EnvelopeHeader",
    "ErrorReply",
    "RegisterReply",
    "RegisterRequest",
    "TaskMeta",
    "UploadMeta",
    "WireError",
    "check",
    "check_header",
    "check_upload_headers",
    "check_upload_meta",
    "check_wait_header",
    "config_key",
    "loads",
    "openapi",
]

MAX_EXAMPLES = 10**9
"""More examples than any device holds; bounds every weight the kernels multiply."""
MAX_ROUND = 10**7
MAX_VERSION = 10**9
MAX_VECTOR = 10**9
MAX_ABS_FLOAT = 1e30
"""Metrics and codec scales beyond this are nonsense, and their squares still fit."""
MAX_JSON_DEPTH = 16
MAX_WAIT_S = 1e6
"""Longest long-poll a client may ask for (the server caps it at its own poll_wait)."""
MAX_INT_DIGITS = 20
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


M = TypeVar("M", bound=BaseModel)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


class WireError(ValueError):
    """A request or task that does not match the declared schema; the text says where."""


def _finite(x: float) -> float:
    if not math.isfinite(x) or abs(x) > MAX_ABS_FLOAT:
        raise ValueError(f"must be finite and at most {MAX_ABS_FLOAT:g} in magnitude")
    return x


Number = Annotated[StrictFloat | StrictInt, AfterValidator(lambda v: _finite(float(v)))]
ClientId = Annotated[StrictStr, Field(pattern=ID_PATTERN)]
ShortText = Annotated[StrictStr, Field(max_length=128)]
Examples = Annotated[StrictInt, Field(ge=0, le=MAX_EXAMPLES)]
Round = Annotated[StrictInt, Field(ge=0, le=MAX_ROUND)]
Version = Annotated[StrictInt, Field(ge=0, le=MAX_VERSION)]
MetricName = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class _Wire(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)


class RegisterRequest(_Wire):
    """POST /v1/register: a device announces itself (after authentication)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")
    client_id: ClientId
    num_examples: Examples
    device: ShortText = ""
    instance: Annotated[StrictStr, Field(max_length=64)] = ""
    """A random token per client process: a second live process with the same identity
    is refused (duplicate identity), a restarted one takes over when the old one is quiet."""


class RegisterReply(_Wire):
    client_id: ClientId
    poll_wait: Number


class ErrorReply(_Wire):
    """Every 4xx and 5xx answer: what was wrong, never a traceback."""

    error: StrictStr
    status: StrictInt
    late: StrictBool = False
    """A 409 to an upload that came too late to count (its round has its reports, is
    closed or is over): not wrong, so the device asks for its next task at once rather
    than backing off as after a refusal. Absent: false."""


Wait = Annotated[float, Field(ge=0.0, le=MAX_WAIT_S, allow_inf_nan=False)]


class TaskQuery(_Wire):
    """GET /v1/task query string (strings on the wire, parsed and bounded here)."""

    model_config = ConfigDict(strict=False, frozen=True, extra="forbid")
    client_id: ClientId
    wait: Wait = 30.0


class WaitHeader(_Wire):
    """X-Fedsim-Wait on a registration or an upload (headers, parsed and bounded here)."""

    model_config = ConfigDict(strict=False, frozen=True)
    wait: Wait | None = Field(None, alias="X-Fedsim-Wait")
    """Present: the answer's head comes at once and its body is the client's next task,
    long-polled for up to this many seconds (empty: none came)."""


class UploadHeaders(_Wire):
    """POST /v1/update request headers."""

    model_config = ConfigDict(strict=False, frozen=True)
    client: ClientId = Field(alias="X-Fedsim-Client")
    round: Annotated[int, Field(ge=0, le=MAX_ROUND)] = Field(alias="X-Fedsim-Round")
    wait: Wait | None = Field(None, alias="X-Fedsim-Wait")
    """As `WaitHeader`: the head says the update is stored, the body is the next task."""


class UploadMeta(_Wire):
    """The `meta` object of an uploaded envelope."""

    client_id: ClientId
    round: Round
    version: Version
    num_examples: Annotated[StrictInt, Field(ge=1, le=MAX_EXAMPLES)]
    metrics: Annotated[dict[MetricName, Number], Field(max_length=64)] = {}


MAX_TASK_COUNT = 10**6
"""A client's own ceiling on any count a task asks for (epochs, episodes, steps)."""


def _task_config(config: Any) -> dict[str, Any]:
    """A task's config is `fl.local` of a topology file: validated by the same model
    (`fedsim.config.fl.LocalTraining`), plus a ceiling on the work it may ask for.
    A config that passed is remembered by its exact values (every task of a run
    carries the same one), so the model runs once per config, not once per task."""
    if not isinstance(config, dict):
        raise ValueError("must be an object")
    key = config_key(config)
    known = _CHECKED_CONFIGS.get(key) if key is not None else None
    if known is not None:
        return dict(known)
    checked = _check_task_config(config)
    if key is not None:
        if len(_CHECKED_CONFIGS) >= 64:
            _CHECKED_CONFIGS.clear()
        _CHECKED_CONFIGS[key] = dict(checked)
    return checked


_SCALARS = (str, int, float, bool, type(None))
_CHECKED_CONFIGS: dict[tuple[tuple[str, type, str], ...], dict[str, Any]] = {}


def config_key(config: dict[str, Any]) -> tuple[tuple[str, type, str], ...] | None:
    """The exact identity of a flat config (type and repr tell 1, 1.0, True and -0.0
    apart), or None when a value is not a plain scalar."""
    if not all(type(v) in _SCALARS for v in config.values()):
        return None
    return tuple((k, type(v), repr(v)) for k, v in config.items())


def _check_task_config(config: dict[str, Any]) -> dict[str, Any]:
    from fedsim.config.fl import LocalTraining  # lazily: config imports the codec

    try:
        checked = LocalTraining.model_validate(config).config()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    for key, value in checked.items():
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_TASK_COUNT:
            raise ValueError(f"{key}: {value} is more than this client accepts ({MAX_TASK_COUNT})")
    return checked


TaskConfig = Annotated[dict[str, Any], AfterValidator(_task_config)]


class TaskMeta(_Wire):
    """The `meta` object of a task envelope: what a client checks before it trains."""

    round: Round
    version: Version
    config: TaskConfig = {}


class EnvelopeHeader(_Wire):
    """The JSON header of a model envelope (fedsim.fl.codec), either direction."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")
    codec: Literal["float32", "float16", "int8", "topk"]
    n: Annotated[StrictInt, Field(ge=0, le=MAX_VECTOR)]
    delta: StrictBool = False
    crc32: Annotated[StrictInt, Field(ge=0, le=2**32 - 1)]
    meta: dict[str, Any] = {}
    lo: Number | None = None
    scale: Annotated[Number, Field(ge=0.0)] | None = None
    k: Annotated[StrictInt, Field(ge=1, le=MAX_VECTOR)] | None = None
    index: Literal["int32", "bitmap"] | None = None


def _reject_constant(name: str) -> Any:
    raise WireError(f"{name} is not allowed in JSON here")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise WireError(f"integer of {len(text)} digits is out of range")
    return int(text)


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise WireError(f"number {text[:24]} is out of range")
    return x


def loads(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON whose numbers fit the wire (no NaN, Inf, huge ints) and whose nesting
    is shallow; anything else is a `WireError` (never RecursionError or OverflowError)."""
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            data = str(data, "utf-8")
        except UnicodeDecodeError:
            raise WireError("body is not UTF-8") from None
    # Depth never exceeds the number of opening brackets: count first, scan if needed.
    if data.count("[") + data.count("{") > max_depth and _depth(data) > max_depth:
        raise WireError(f"JSON nests deeper than {max_depth} levels")
    try:
        if data.startswith("\ufeff"):  # json.loads' refusal, word for word
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
        return _DECODER.decode(data)
    except WireError:
        raise
    except (ValueError, RecursionError) as exc:
        raise WireError(f"not valid JSON ({str(exc)[:80]})") from None


_DECODER = json.JSONDecoder(
    parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_reject_constant
)
"""One decoder for every request (json.loads with hooks builds a new one per call)."""


def _depth(text: str) -> int:
    """Nesting depth of brackets outside strings, computed without recursion."""
    if "[" not in text and "{" not in text:
        return 0
    depth = deepest = 0
    for ch in _BRACKET.findall(_STRING.sub("", text)):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check(model: type[M], data: Any, where: str) -> M:
    """Validate `data` as `model`; a `WireError` naming the first bad field otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise WireError(f"{where}.{loc}: {first['msg']}") from None


_ID = re.compile(ID_PATTERN.removeprefix("^").removesuffix("$")).fullmatch
"""`ID_PATTERN` as pydantic's (Rust) regex applies it: `$` there is the end, never
before a final newline as in Python's, hence a full match without the anchors."""
_PLAIN_HEADER = frozenset({"codec", "n", "delta", "crc32", "meta"})


def check_header(header: Any) -> None:
    """As `check(EnvelopeHeader, header, "header")`, which a model envelope's header
    passes on every request. The common case (a float32 or float16 envelope without
    lossy fields, ASCII meta keys) is checked here in Python: it accepts only what the
    model accepts. Anything else goes through the model, for its decision and text."""
    if (
        type(header) is dict
        and header.keys() <= _PLAIN_HEADER
        and header.get("codec") in ("float32", "float16")
        and type(header["codec"]) is str
        and _uint(header.get("n"), MAX_VECTOR)
        and _uint(header.get("crc32"), 2**32 - 1)
        and type(header.get("delta", False)) is bool
        and _plain_keys(header.get("meta", {}))
    ):
        return
    check(EnvelopeHeader, header, "header")


def check_upload_meta(meta: Any) -> tuple[str, int, int, int, dict[str, float]]:
    """`check(UploadMeta, meta, "meta")`'s client id, round, version, examples and
    metrics (floats, as `Number` makes them). An upload's usual meta is checked here in
    Python, accepting only what the model accepts; anything else goes through it."""
    if type(meta) is dict:
        cid = meta.get("client_id")
        rnd = meta.get("round")
        version = meta.get("version")
        n = meta.get("num_examples")
        metrics = meta.get("metrics", {})
        if (
            type(cid) is str
            and cid.isascii()
            and _ID(cid) is not None
            and _uint(rnd, MAX_ROUND)
            and _uint(version, MAX_VERSION)
            and _uint(n, MAX_EXAMPLES)
            and n >= 1
            and type(metrics) is dict
            and len(metrics) <= 64
        ):
            out = {}
            for key, value in metrics.items():
                if not (type(key) is str and 1 <= len(key) <= 64 and key.isascii()):
                    break
                if type(value) is not float and type(value) is not int:
                    break
                x = float(value)
                if not math.isfinite(x) or abs(x) > MAX_ABS_FLOAT:
                    break
                out[key] = x
            else:
                return cid, rnd, version, n, out
    m = check(UploadMeta, meta, "meta")
    return m.client_id, m.round, m.version, m.num_examples, m.metrics


_ROUND_TEXT = re.compile(r"0|[1-9][0-9]{0,7}").fullmatch
_WAIT_TEXT = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,17})?").fullmatch
"""Plain decimals: pydantic's lax int and float read these as Python's int and float
do (both round decimal text correctly)."""


def check_upload_headers(headers: dict[str, Any]) -> tuple[str, int, float | None]:
    """`check(UploadHeaders, headers, "headers")`'s client, round and wait. Headers as
    a client sends them are checked here in Python, accepting only what the model
    accepts; anything else goes through it, for its decision and text."""
    cid = headers.get("X-Fedsim-Client")
    rnd = headers.get("X-Fedsim-Round")
    if (
        type(cid) is str
        and cid.isascii()
        and _ID(cid) is not None
        and type(rnd) is str
        and _ROUND_TEXT(rnd) is not None
        and int(rnd) <= MAX_ROUND
    ):
        wait = _plain_wait(headers)
        if wait is not False:
            return cid, int(rnd), wait
    h = check(UploadHeaders, headers, "headers")
    return h.client, h.round, h.wait


def check_wait_header(headers: dict[str, Any]) -> float | None:
    """`check(WaitHeader, headers, "headers").wait`, its usual case in Python."""
    wait = _plain_wait(headers)
    if wait is not False:
        return wait
    return check(WaitHeader, headers, "headers").wait


def _plain_wait(headers: dict[str, Any]) -> float | bool | None:
    """X-Fedsim-Wait when absent (None) or a plain decimal in bounds; False: ask the model."""
    text = headers.get("X-Fedsim-Wait")
    if text is None:
        return None if "X-Fedsim-Wait" not in headers else False
    if type(text) is str and _WAIT_TEXT(text) is not None:
        x = float(text)
        if 0.0 <= x <= MAX_WAIT_S:
            return x
    return False


def _uint(x: Any, most: int) -> bool:
    """A strict int (no bool) in [0, most]."""
    return type(x) is int and 0 <= x <= most


def _plain_keys(meta: Any) -> bool:
    """A dict whose keys are all ASCII strings (what `dict[str, Any]` surely takes)."""
    return type(meta) is dict and all(type(k) is str and k.isascii() for k in meta)


def openapi() -> dict[str, Any]:
    """The HTTP API as an OpenAPI 3.1 document, generated from the models above."""
    models = {
        m.__name__: m
        for m in (RegisterRequest, RegisterReply, ErrorReply, EnvelopeHeader, UploadMeta, TaskMeta)
    }
    schemas: dict[str, Any] = {}
    for name, model in models.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    ref = "#/components/schemas/"

    def err(desc: str) -> dict[str, Any]:
        return {
            "description": desc,
            "content": {"application/json": {"schema": {"$ref": ref + "ErrorReply"}}},
        }

    errors = {
        "400": err("the request does not match the schema"),
        "401": err("missing, wrong or replayed credentials"),
        "404": err("unknown client: register first"),
        "409": err(
            "stale, duplicate or unselected; an upload too late to count (its round has "
            "its reports, is closed or is over) says late: true"
        ),
        "413": err("body too large"),
        "415": err("unsupported content encoding"),
        "429": err("too many registrations or connections"),
    }
    auth = [{"device": []}]
    wait_header = {
        "name": "X-Fedsim-Wait",
        "in": "header",
        "required": False,
        "description": (
            "long-poll for the client's next task on this answer: the head is sent at once "
            "(the update stored, the client registered), the chunked body is the next task "
            "envelope, empty if none came within the wait, or, once the federation is over, "
            'the JSON {"error": ..., "status": 410} a poll would get'
        ),
        "schema": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S},
    }
    envelope = {
        "description": (
            "b'FSM1', a little-endian u32 header length, a UTF-8 JSON header "
            "(EnvelopeHeader; meta is UploadMeta on upload, TaskMeta on a task), the payload"
        ),
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "fedsim federated learning server", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "device": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Fedsim id=DEVICE,ts=T,b=BODY_SHA256,s=HMAC (docs/deploy.md)",
                },
                "operator": {"type": "http", "scheme": "bearer"},
            },
        },
        "paths": {
            "/v1/register": {
                "post": {
                    "security": auth,
                    "parameters": [wait_header],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": ref + "RegisterRequest"}}
                        },
                    },
                    "responses": {
                        "200": {
                            "description": (
                                "registered; with X-Fedsim-Wait, the body is the first task "
                                "envelope or empty"
                            ),
                            "headers": {
                                "X-Fedsim-Registered": {
                                    "description": "with X-Fedsim-Wait: registered",
                                    "schema": {"type": "string"},
                                }
                            },
                            "content": {
                                "application/json": {"schema": {"$ref": ref + "RegisterReply"}},
                                **envelope["content"],
                            },
                        },
                        **errors,
                    },
                }
            },
            "/v1/task": {
                "get": {
                    "security": auth,
                    "parameters": [
                        {
                            "name": "client_id",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "pattern": ID_PATTERN},
                        },
                        {
                            "name": "wait",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S},
                        },
                    ],
                    "responses": {
                        "200": {"description": "a task envelope", **envelope},
                        "204": {"description": "no task within the wait"},
                        "410": err("the federation is finished"),
                        **errors,
                    },
                }
            },
            "/v1/update": {
                "post": {
                    "security": auth,
                    "parameters": [
                        {
                            "name": "X-Fedsim-Client",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string", "pattern": ID_PATTERN},
                        },
                        {
                            "name": "X-Fedsim-Round",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ROUND},
                        },
                        wait_header,
                    ],
                    "requestBody": {"required": True, **envelope},
                    "responses": {
                        "200": {
                            "description": (
                                "accepted (durably stored when the server has --state); with "
                                "X-Fedsim-Wait, the body is the next task envelope or empty"
                            ),
                            "headers": {
                                "X-Fedsim-Accepted": {
                                    "description": "the round of the stored update",
                                    "schema": {"type": "integer"},
                                }
                            },
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                **envelope["content"],
                            },
                        },
                        **errors,
                    },
                }
            },
            "/v1/status": {
                "get": {
                    "security": [{"operator": []}],
                    "responses": {
                        "200": {
                            "description": "round, version, metric, clients",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **errors,
                    },
                }
            },
        },
    }
