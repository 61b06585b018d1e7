"""aiohttp imported without reading the system's CA certificates.

aiohttp makes its two default TLS client contexts when it is imported, and each reads
the system's CA bundle: ~35 ms of CPU, a tenth of what `fedsim run` spends importing.
A simulated run speaks plain HTTP over the emulated network and never opens TLS, so in
its own process (`fedsim run`) aiohttp is imported with OpenSSL pointed at no
certificates: those two contexts stay empty, and an HTTPS request made through them
would fail verification (loudly, never silently unverified). Nothing else changes: the
variables are restored at once, so later contexts (and child processes) see the
system's certificates as usual.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["import_aiohttp_without_ca_bundle"]

_CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
"""Where OpenSSL looks for the default CA certificates (file, then directory)."""


@contextlib.contextmanager
def _no_ca_bundle() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in _CA_VARIABLES}
    try:
        for name in _CA_VARIABLES:
            os.environ[name] = os.devnull
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def import_aiohttp_without_ca_bundle() -> bool:
    """Import aiohttp with empty default TLS contexts; False (nothing done) when it is
    already imported."""
    if "aiohttp" in sys.modules:
        return False
    with _no_ca_bundle():
        import aiohttp  # noqa: F401
    return True
