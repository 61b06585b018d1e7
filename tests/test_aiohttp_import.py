"""aiohttp imported without the CA bundle (fedsim.aiohttp_import): its default TLS
contexts are empty, and the process's environment and later TLS contexts are as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_IMPORT = """
import json, os, ssl, sys
before = ssl.create_default_context().cert_store_stats()["x509_ca"]
from fedsim.aiohttp_import import import_aiohttp_without_ca_bundle
first = import_aiohttp_without_ca_bundle()
again = import_aiohttp_without_ca_bundle()
import aiohttp.connector as connector
print("OUT " + json.dumps({
    "first": first, "again": again,
    "aiohttp_verified": connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
    "aiohttp_unverified": connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"],
    "before": before,
    "after": ssl.create_default_context().cert_store_stats()["x509_ca"],
    "env": {k: os.environ.get(k) for k in ("SSL_CERT_FILE", "SSL_CERT_DIR")},
}))
"""


def test_aiohttp_gets_empty_tls_contexts_and_nothing_else_changes() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("SSL_CERT_DIR", None)
    env["SSL_CERT_FILE"] = ssl_file = os.environ.get("SSL_CERT_FILE", "/no/such/bundle.pem")
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("OUT ")][-1][4:])
    assert (out["first"], out["again"]) == (True, False)
    assert out["aiohttp_verified"] == out["aiohttp_unverified"] == 0
    assert out["after"] == out["before"]
    assert out["env"] == {"SSL_CERT_FILE": ssl_file, "SSL_CERT_DIR": None}
