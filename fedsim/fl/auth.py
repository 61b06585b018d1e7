"""Device identity: per-device keys, signed requests, an operator token.

A fleet has one secret (the master key, from `fedsim enroll` or, in emulation and
development, derived from the seed). Each enrolled device's key is
HMAC(master, "fedsim-device:" + name); the server derives any key it needs, a
device holds only its own. Every request carries

    Authorization: Fedsim id=DEVICE,ts=NONCE,b=BODY_SHA256,s=SIGNATURE

where SIGNATURE is HMAC-SHA256(device key), truncated to 128 bits, over the
method, path, sorted query, every X-Fedsim-* header (client id, round), the
device, the nonce and the body's SHA-256 (also truncated to 128 bits; an upload's
body is the envelope: header with round, model version and
client, and payload). The nonce is a timestamp that rises strictly per device:
the server refuses one not newer than the last it accepted from that device
(replays) or, in deployment, more than `window_s` from its own clock (stale
captures). Edits to any covered part break the signature. `/v1/status` takes the
operator token (Bearer); the model is only handed out on an authenticated poll.

The emulator runs the same code with seed-derived keys and the virtual clock, so
every simulated request carries (and is charged for) the same header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from fedsim.errors import FedsimError
from fedsim.fl.wire_limits import BODY_DIGEST, body_digest
from fedsim.fl.wire_limits import b64url as _b64

__all__ = [
    "DEVICE",
    "Keyring",
    "Signer",
    "authenticated_as",
    "device_auth",
    "load_device_key",
]

DEVICE = web.RequestKey("fedsim.device", str)
"""Request key: the device a request was authenticated as."""
SCHEME = "Fedsim"
MAC_BYTES = 16
"""HMAC-SHA256 truncated to 128 bits (as IPsec's RFC 4868 does): 22 characters a
request instead of 43, which a LoRa link at 1 % duty cycle notices."""
KEYED_DEVICES = 16_384
"""How many devices' keyed HMAC states the server keeps (a fleet's active set)."""
PUBLIC_PATHS = frozenset({"/v1/openapi.json"})
OPERATOR_PATHS = frozenset({"/v1/status"})


def canonical(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    device: str,
    nonce: str,
    digest: str,
) -> bytes:
    """The bytes a signature covers (both ends build them the same way)."""
    q = "&".join([f"{k}={v}" for k, v in sorted(query)])
    # Headers by lower-cased name, stable among equal names (as sorting by key is).
    h = "&".join([f"{k}={v}" for k, v in sorted([(k.lower(), v) for k, v in headers], key=_name)])
    return f"{method.upper()}\n{path}\n{q}\n{h}\n{device}\n{nonce}\n{digest}".encode()


def _name(item: tuple[str, str]) -> str:
    return item[0]


def _mac(mac: hmac.HMAC, msg: bytes) -> str:
    """The signature: `mac` (a fresh keyed HMAC-SHA256) of `msg`, truncated to
    MAC_BYTES, unpadded base64url."""
    mac.update(msg)
    return _b64(mac.digest()[:MAC_BYTES])


class Keyring:
    """The fleet's secret and who is enrolled; derives device keys and the operator token."""

    def __init__(self, master: bytes, devices: Iterable[str] | None = None) -> None:
        if len(master) < 16:
            raise FedsimError("a fleet key needs at least 16 bytes of secret")
        self._master = master
        self._keyed_master = hmac.new(master, digestmod=hashlib.sha256)
        """The master key's HMAC state: hashed once, copied per derived key."""
        self.devices = frozenset(devices) if devices is not None else None

    @classmethod
    def from_seed(cls, seed: int, devices: Iterable[str] | None = None) -> Keyring:
        """Development and emulation keys: anyone who knows the seed can derive them."""
        return cls(hashlib.sha256(f"fedsim-emulated-fleet:{seed}".encode()).digest(), devices)

    @classmethod
    def from_file(cls, path: str | Path, devices: Iterable[str] | None = None) -> Keyring:
        data = _read_json(path, "fleet key")
        try:
            return cls(bytes.fromhex(str(data["master"])), devices)
        except (KeyError, ValueError):
            raise FedsimError(f"{path}: not a fleet key file (made by `fedsim enroll`)") from None

    def to_json(self) -> str:
        return json.dumps({"kind": "fedsim-fleet-key", "master": self._master.hex()})

    def enrolled(self, device: str) -> bool:
        return self.devices is None or device in self.devices

    def device_key(self, device: str) -> bytes:
        mac = self._keyed_master.copy()
        mac.update(f"fedsim-device:{device}".encode())
        return mac.digest()

    def operator_token(self) -> str:
        return _b64(hmac.new(self._master, b"fedsim-operator", hashlib.sha256).digest())

    def signer(self, device: str, clock: Callable[[], float]) -> Signer:
        return Signer(device, self.device_key(device), clock)


def load_device_key(path: str | Path) -> tuple[str, bytes]:
    """(device name, key) from a credential file written by `fedsim enroll`."""
    data = _read_json(path, "device key")
    try:
        return str(data["device"]), bytes.fromhex(str(data["key"]))
    except (KeyError, ValueError):
        raise FedsimError(f"{path}: not a device key file (made by `fedsim enroll`)") from None


def _read_json(path: str | Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise FedsimError(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError:
        raise FedsimError(f"{path}: not a {what} file (made by `fedsim enroll`)") from None
    if not isinstance(data, dict):
        raise FedsimError(f"{path}: not a {what} file (made by `fedsim enroll`)")
    return data


class Signer:
    """A device's side: signs each request with a strictly rising nonce."""

    def __init__(self, device: str, key: bytes, clock: Callable[[], float]) -> None:
        self.device = device
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)
        self._clock = clock
        self._last = -math.inf

    def _nonce(self) -> str:
        now = self._clock()
        if now <= self._last:  # two requests in one clock tick still get distinct nonces
            now = math.nextafter(self._last, math.inf)
        self._last = now
        return repr(now)

    def sign(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> str:
        """The Authorization header value for one request."""
        nonce = self._nonce()
        digest = body_digest(body)
        signed = _covered(headers.items()) if headers else []
        msg = canonical(
            method, path, query.items() if query else (), signed, self.device, nonce, digest
        )
        sig = _mac(self._keyed.copy(), msg)  # the key is hashed once, not per request
        return f"{SCHEME} id={self.device},ts={nonce},b={digest},s={sig}"


def _covered(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers a signature covers: every X-Fedsim-* one, any case. The first letter
    is checked first (no character but x and X lower-cases to an x)."""
    return [(k, v) for k, v in headers if k[:1] in "xX" and k.lower().startswith("x-fedsim-")]


def _parse(value: str) -> dict[str, str] | None:
    scheme, _, rest = value.partition(" ")
    if scheme != SCHEME or len(value) > 512:
        return None
    fields = {key: value for key, _, value in [part.partition("=") for part in rest.split(",")]}
    return fields if {"id", "ts", "b", "s"} <= fields.keys() else None


def _deny(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason, "status": status}, status=status)


def device_auth(
    keyring: Keyring, clock: Callable[[], float], window_s: float = math.inf
) -> Callable[..., Any]:
    """aiohttp middleware: authenticate every request before its handler runs.

    `clock` is the server's notion of now (wall clock in deployment, the loop's in
    emulation); nonces more than `window_s` away from it are refused, and so are
    nonces from before the server started (a restarted server has forgotten the
    last nonces, but no request captured before the restart passes)."""
    started = clock()
    last: dict[str, float] = {}
    keyed: dict[str, hmac.HMAC] = {}
    """Per device, its key's HMAC state: derived and hashed once, copied per request
    (~0.9 kB each: at most KEYED_DEVICES of them, then it starts again)."""
    operator = keyring.operator_token().encode()

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)  # type: ignore[no-any-return]
        auth = request.headers.get("Authorization", "")
        if request.path in OPERATOR_PATHS:
            token = auth.removeprefix("Bearer ").strip().encode()
            if not auth.startswith("Bearer ") or not hmac.compare_digest(token, operator):
                return _deny(401, "status needs the operator token (Authorization: Bearer ...)")
            return await handler(request)  # type: ignore[no-any-return]
        fields = _parse(auth)
        if fields is None:
            return _deny(401, "missing or malformed Authorization header (Fedsim id=...)")
        device = fields["id"]
        try:
            nonce = float(fields["ts"])
        except ValueError:
            return _deny(401, "authentication failed: bad nonce")
        if not keyring.enrolled(device) or not math.isfinite(nonce):
            return _deny(401, "authentication failed: unknown device or bad signature")
        signed = _covered(request.headers.items())
        msg = canonical(
            request.method,
            request.path,
            request.query.items(),
            signed,
            device,
            fields["ts"],
            fields["b"],
        )
        mac = keyed.get(device)
        if mac is None:
            if len(keyed) >= KEYED_DEVICES:
                keyed.clear()
            mac = keyed[device] = hmac.new(keyring.device_key(device), digestmod=hashlib.sha256)
        want = _mac(mac.copy(), msg)
        if not hmac.compare_digest(want.encode(), fields["s"].encode()):
            return _deny(401, "authentication failed: unknown device or bad signature")
        if abs(nonce - clock()) > window_s:
            return _deny(401, f"request nonce is more than {window_s:g} s from the server clock")
        floor = last.get(device)
        if (nonce <= floor) if floor is not None else (nonce < started):
            return _deny(401, "replayed request: the nonce is not newer than the last one")
        last[device] = nonce
        request[DEVICE] = device
        request[BODY_DIGEST] = fields["b"]
        # Checked: not kept through the handler, a long poll for every registered device.
        del auth, fields, signed, msg, want
        return await handler(request)  # type: ignore[no-any-return]

    return authenticate


def authenticated_as(request: web.Request, client_id: str) -> None:
    """A request may only speak for the device it authenticated as (403 otherwise)."""
    device = request.get(DEVICE)
    if device is not None and device != client_id:
        raise web.HTTPForbidden(reason=f"authenticated as {device!r}, not {client_id!r}")
