"""A deployed server (fedsim.deploy.serve) on loopback in a background thread, and
devices that sign their requests like FLClient does, for attack and fuzz tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import requests

from fedsim.deploy import serve
from fedsim.fl.auth import Keyring, Signer
from fedsim.fl.codec import encode
from fedsim.scenario import Scenario

TIMEOUT_S = 60.0


class LiveServer:
    """`with LiveServer(sc) as srv:` serves `sc` on 127.0.0.1:<free port>."""

    def __init__(self, sc: Scenario, keyring: Keyring, **serve_kwargs: Any) -> None:
        self.sc = sc
        self.keyring = keyring
        self.kwargs = serve_kwargs
        self.engine: Any = None
        self.error: BaseException | None = None
        self.records: list[Any] | None = None
        self._ready = threading.Event()
        self._port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()

            def ready(port: int) -> None:
                self._port = port
                self._ready.set()

            def engine(e: Any) -> None:
                self.engine = e

            self.records = await serve(
                self.sc, "127.0.0.1", 0, on_ready=ready, on_engine=engine, grace_s=0.5,
                keyring=self.keyring, **self.kwargs,
            )  # fmt: skip

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported by alive()
            self.error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> LiveServer:
        self._thread.start()
        assert self._ready.wait(TIMEOUT_S), "server did not start"
        assert self.error is None, self.error
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._task is not None and not self._task.done():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(TIMEOUT_S)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def alive(self) -> bool:
        return self._thread.is_alive() and self.error is None

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the server's loop (a consistent view of the engine)."""
        assert self._loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(TIMEOUT_S)

    def model(self) -> bytes:
        return bytes(self.call(lambda: self.engine.params.tobytes()))

    def status(self) -> dict[str, Any]:
        token = self.keyring.operator_token()
        r = requests.get(
            f"{self.url}/v1/status", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait_for(
        self, what: Callable[[dict[str, Any]], bool], timeout_s: float = TIMEOUT_S
    ) -> None:
        """Poll /v1/status until `what(status)`, at most `timeout_s`."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if what(self.status()):
                return
            time.sleep(0.02)
        raise AssertionError(f"server status never matched: {self.status()}")


class Device:
    """Requests signed as device `name` with `key` (default: its enrolled key)."""

    def __init__(self, server: LiveServer, name: str, key: bytes | None = None) -> None:
        self.server = server
        self.name = name
        self.signer = Signer(name, key or server.keyring.device_key(name), time.time)
        self.session = requests.Session()

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        sign: bool = True,
        timeout: float = 30.0,
    ) -> requests.Response:
        h = dict(headers or {})
        if sign:
            h["Authorization"] = self.signer.sign(method, path, query, h, body)
        return self.session.request(
            method, self.server.url + path, params=dict(query or {}), headers=h, data=body,
            timeout=timeout,
        )  # fmt: skip

    def register(self, num_examples: int = 100) -> requests.Response:
        body = json.dumps({"client_id": self.name, "num_examples": num_examples}).encode()
        return self.send("POST", "/v1/register", body=body,
                         headers={"Content-Type": "application/json"})  # fmt: skip

    def poll(self, wait: float = 5.0) -> requests.Response:
        return self.send("GET", "/v1/task", query={"client_id": self.name, "wait": str(wait)})

    def upload(self, body: bytes, server_round: int, **kwargs: Any) -> requests.Response:
        headers = {"X-Fedsim-Client": self.name, "X-Fedsim-Round": str(server_round),
                   "Content-Type": "application/octet-stream"}  # fmt: skip
        return self.send("POST", "/v1/update", headers=headers, body=body, **kwargs)

    def envelope(self, values: np.ndarray, server_round: int, version: int, **meta: Any) -> bytes:
        m = {"client_id": self.name, "round": server_round, "version": version,
             "num_examples": 100, "metrics": {}, **meta}  # fmt: skip
        return encode(values, m).body


def is_json_error(r: requests.Response) -> bool:
    """A 4xx whose body is the JSON `{"error": reason}` the API promises."""
    if not 400 <= r.status_code < 500:
        return False
    if not r.headers.get("Content-Type", "").startswith("application/json"):
        return False
    try:
        return isinstance(r.json().get("error"), str)
    except ValueError:
        return False
