"""The binary envelope that carries a model over HTTP, and its codecs.

Layout: `b"FSM1"`, a little-endian u32 header length, a UTF-8 JSON header, the
payload. The header names the codec, the vector length, a CRC-32 of the payload
and free-form `meta` (round, client, metrics). Decoding checks everything and
raises `EnvelopeError` with a reason the server returns as a 400.

Codecs (`float32`, `float16`, `int8`, `topk`) encode either the model itself or,
with `delta=True`, its difference from a base model both ends hold (the deployed
global model), which is what lossy codecs should compress.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedsim.fl.wire_schema import WireError, check_header, loads

__all__ = [
    "CODECS",
    "Decoded",
    "Encoded",
    "EnvelopeError",
    "decode",
    "encode",
    "payload_size",
    "restore_residual",
]

MAGIC = b"FSM1"
_HEAD = struct.Struct("<4sI")
MAX_HEADER = 64 * 1024
CODECS = ("float32", "float16", "int8", "topk")
_HEADER_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True)
"""The header's compact, key-sorted JSON (json.dumps builds this encoder per call)."""


class EnvelopeError(ValueError):
    """A malformed or inconsistent envelope; the message says what is wrong."""


@dataclass
class Encoded:
    body: bytes
    payload_bytes: int
    sent: tuple[np.ndarray, np.ndarray] | None = None
    """top-k: the (indices, values) sent, which `encode` took out of the residual."""


@dataclass
class Decoded:
    meta: dict[str, Any]
    values: np.ndarray
    codec: str
    delta: bool


def encode(
    values: np.ndarray,
    meta: dict[str, Any],
    *,
    codec: str = "float32",
    delta: bool = False,
    rng: np.random.Generator | None = None,
    topk_fraction: float = 0.1,
    residual: np.ndarray | None = None,
) -> Encoded:
    """Encode a float32 vector. `residual` is the top-k error-feedback memory (updated)."""
    x = np.ascontiguousarray(values, dtype=np.float32)
    extra: dict[str, Any] = {}
    sent = None
    if codec != "float32":
        from fedsim.kernels import compress
    if codec == "float32":
        payload = x.tobytes()
    elif codec == "float16":
        out16 = np.empty(x.size, dtype=np.uint16)
        compress.to_float16(x, out16)
        payload = out16.tobytes()
    elif codec == "int8":
        if rng is None:
            raise ValueError("int8 needs a random generator for stochastic rounding")
        q = np.empty(x.size, dtype=np.int8)
        lo, scale = compress.quantize_int8(x, rng.random(x.size), q)
        extra = {"lo": float(lo), "scale": float(scale)}
        payload = q.tobytes()
    elif codec == "topk":
        k = max(1, round(topk_fraction * x.size))
        res = residual if residual is not None else np.zeros_like(x)
        idx = np.empty(k, dtype=np.int32)
        val = np.empty(k, dtype=np.float32)
        compress.topk_feedback(x, res, k, idx, val)
        sent = idx, val
        if x.size < 32 * k:  # a bitmap (n/8 bytes) beats int32 indices (4k bytes)
            mask = np.zeros(x.size, dtype=bool)
            mask[idx] = True
            extra = {"k": k, "index": "bitmap"}
            payload = np.packbits(mask).tobytes() + val.tobytes()
        else:
            extra = {"k": k, "index": "int32"}
            payload = idx.tobytes() + val.tobytes()
    else:
        raise ValueError(f"unknown codec {codec!r} (known: {', '.join(CODECS)})")
    header = {
        "codec": codec,
        "n": int(x.size),
        "delta": delta,
        "crc32": zlib.crc32(payload),
        "meta": meta,
        **extra,
    }
    head = _HEADER_JSON.encode(header).encode()
    return Encoded(b"".join((_HEAD.pack(MAGIC, len(head)), head, payload)), len(payload), sent)


def restore_residual(residual: np.ndarray, idx: np.ndarray, val: np.ndarray) -> None:
    """Put a top-k upload's sent entries back into the residual `encode` took them from
    (the server refused the upload, so they were never used): error feedback then sends
    them later, and nothing is dropped. Added, since the residual's own entries there
    may have grown since (`encode` left them at zero)."""
    np.add.at(residual, idx, val)


def payload_size(n: int, codec: str, topk_fraction: float = 0.1) -> int:
    """The payload bytes `encode` makes of `n` values with `codec` (the envelope less its
    header): what the byte ledger counts as model per envelope, known without encoding
    (the auditor checks the transports' counts against it)."""
    if codec == "float32":
        return 4 * n
    if codec == "float16":
        return 2 * n
    if codec == "int8":
        return n
    if codec == "topk":
        k = max(1, round(topk_fraction * n))
        return (n + 7) // 8 + 4 * k if n < 32 * k else 8 * k
    raise ValueError(f"unknown codec {codec!r} (known: {', '.join(CODECS)})")


def _header(body: bytes) -> tuple[dict[str, Any], memoryview]:
    if len(body) < _HEAD.size:
        raise EnvelopeError("body too short for a model envelope")
    magic, hlen = _HEAD.unpack_from(body)
    if magic != MAGIC:
        raise EnvelopeError("not a fedsim model envelope (bad magic)")
    if hlen > MAX_HEADER or _HEAD.size + hlen > len(body):
        raise EnvelopeError(f"header length {hlen} does not fit the body")
    try:
        header = loads(memoryview(body)[_HEAD.size : _HEAD.size + hlen])
        check_header(header)
    except WireError as exc:
        raise EnvelopeError(str(exc)) from None
    return header, memoryview(body)[_HEAD.size + hlen :]


def decode(body: bytes, expected_n: int | None = None) -> Decoded:
    """Parse and check an envelope; values come back as float32 (deltas not yet applied).

    The server passes `expected_n` (the model size); a client trusts the header.
    """
    header, payload = _header(body)
    codec = header.get("codec")
    n = header.get("n")
    if codec not in CODECS:
        raise EnvelopeError(f"unknown codec {codec!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise EnvelopeError(f"bad vector length {n!r}")
    if expected_n is not None and n != expected_n:
        raise EnvelopeError(f"wrong shape: expected {expected_n} values, got {n}")
    if header.get("crc32") != zlib.crc32(payload):
        raise EnvelopeError("checksum mismatch: the payload is corrupt")
    if codec == "float32":
        _need(payload, 4 * n)
        out = np.frombuffer(payload, dtype=np.float32).copy()  # its own, writable
    else:
        out = _decode_lossy(header, payload, codec, n)
    if b"\x00" in np.isfinite(out).tobytes():  # `not isfinite(out).all()`, in C alone
        raise EnvelopeError("values contain NaN or Inf")
    return Decoded(dict(header.get("meta", {})), out, codec, bool(header.get("delta", False)))


def _decode_lossy(header: dict[str, Any], payload: memoryview, codec: str, n: int) -> np.ndarray:
    from fedsim.kernels import compress

    out = np.empty(n, dtype=np.float32)
    try:
        if codec == "float16":
            _need(payload, 2 * n)
            compress.from_float16(np.frombuffer(payload, dtype=np.uint16), out)
        elif codec == "int8":
            _need(payload, n)
            lo, scale = float(header["lo"]), float(header["scale"])
            compress.dequantize_int8(np.frombuffer(payload, dtype=np.int8), lo, scale, out)
        else:
            k = int(header["k"])
            if not 0 < k <= n:
                raise EnvelopeError(f"top-k count {k} out of range")
            if header.get("index", "int32") == "bitmap":
                nmask = (n + 7) // 8
                _need(payload, nmask + 4 * k)
                bits = np.unpackbits(np.frombuffer(payload[:nmask], dtype=np.uint8), count=n)
                idx = np.flatnonzero(bits).astype(np.int32)
                if idx.size != k:
                    raise EnvelopeError(f"top-k bitmap marks {idx.size} values, header says {k}")
                vals = np.frombuffer(payload[nmask:], dtype=np.float32)
            else:
                _need(payload, 8 * k)
                idx = np.frombuffer(payload[: 4 * k], dtype=np.int32)
                if idx.size and (idx.min() < 0 or idx.max() >= n):
                    raise EnvelopeError("top-k index out of range")
                vals = np.frombuffer(payload[4 * k :], dtype=np.float32)
            compress.scatter(idx, vals, out)
    except (KeyError, TypeError) as exc:
        raise EnvelopeError(f"codec {codec} header lacks {exc}") from None
    return out


def _need(payload: memoryview, nbytes: int) -> None:
    if len(payload) != nbytes:
        raise EnvelopeError(f"payload has {len(payload)} bytes, the header implies {nbytes}")
