"""The server keeps each device's keyed HMAC between requests (a bounded cache): a
cached or evicted key verifies exactly as a fresh one, and never lets a wrong key in."""

from __future__ import annotations

import hashlib

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from fedsim.fl import auth
from fedsim.fl.auth import Keyring, Signer, device_auth

DEVICES = [f"dev-{i}" for i in range(5)]


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text=request[auth.DEVICE])


async def _status(middleware: object, signer: Signer, round_: int) -> int:
    headers = {"X-Fedsim-Client": signer.device, "X-Fedsim-Round": str(round_)}
    body = b"envelope bytes"
    signed = {**headers, "Authorization": signer.sign("POST", "/v1/update", None, headers, body)}
    request = make_mocked_request("POST", "/v1/update", headers=signed)
    response = await middleware(request, _ok)  # type: ignore[operator]
    return int(response.status)


@pytest.mark.parametrize("cap", [1, 2, 16_384])
async def test_cached_and_evicted_keys_verify_and_wrong_keys_never_do(
    cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "KEYED_DEVICES", cap)
    keyring = Keyring.from_seed(7, DEVICES)
    clock = Clock()
    middleware = device_auth(keyring, clock)
    signers = {d: keyring.signer(d, clock) for d in DEVICES}
    for round_ in range(3):  # every device's key is cached, evicted and cached again
        for device in DEVICES:
            assert await _status(middleware, signers[device], round_) == 200
    # A key that is not the device's own: refused whether its real key is cached or not.
    other = keyring.device_key(DEVICES[1])
    forged = Signer(DEVICES[0], other, clock)
    assert await _status(middleware, forged, 9) == 401
    wrong = Signer(DEVICES[2], hashlib.sha256(b"guess").digest(), clock)
    assert await _status(middleware, wrong, 9) == 401
    assert await _status(middleware, signers[DEVICES[0]], 9) == 200
