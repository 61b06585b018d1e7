"""Which application bytes are model: HTTP framing followed per write, never per byte.

The byte ledger splits the payload a connection carries into the model (the encoded
tensors of a model envelope, `fedsim.fl.codec`) and protocol (HTTP request and status
lines, headers, long polls, registrations, status answers, the envelope's own header).
A write is one HTTP message or part of one; its head names the body's length, and a body
that starts with the envelope's magic carries a model. Bodies that span writes are
followed by a count of bytes left, so a write costs one `find` and, on a head, a header
lookup: no work per byte.
"""

from __future__ import annotations

import struct

MAGIC = b"FSM1"
"""A model envelope's first bytes (`fedsim.fl.codec.MAGIC`; net never imports fl, and
tests/test_ledger.py checks the two agree)."""

__all__ = ["ModelBytes"]

_ENVELOPE_HEAD = struct.Struct("<4sI")
_HEAD_END = b"\r\n\r\n"
_LENGTH = b"\ncontent-length:"


def _content_length(head: bytes) -> int:
    """The head's Content-Length (0 when absent: a GET, a 204)."""
    at = head.lower().find(_LENGTH)
    if at < 0:
        return 0
    start = at + len(_LENGTH)
    end = head.find(b"\r", start)
    try:
        return int(head[start : end if end >= 0 else None])
    except ValueError:
        return 0


class ModelBytes:
    """One direction of one connection: how many of each write's bytes are model."""

    __slots__ = ("_envelope_left", "_left", "_model")

    def __init__(self) -> None:
        self._left = 0
        """Body bytes of the current message not yet written."""
        self._model = False
        """The current body is a model envelope."""
        self._envelope_left = 0
        """Bytes of the envelope's own header (protocol) not yet written."""

    def count(self, chunk: bytes) -> int:
        """Model bytes in `chunk`, the next bytes written in this direction."""
        model = 0
        pos, size = 0, len(chunk)
        while pos < size:
            if self._left == 0:
                end = chunk.find(_HEAD_END, pos)
                if end < 0:
                    return model  # not an HTTP head (aiohttp writes heads whole): protocol
                self._left = _content_length(chunk[pos:end])
                pos = end + len(_HEAD_END)
                self._model = False
                if self._left and chunk.startswith(MAGIC, pos) and size - pos >= 8:
                    self._model = True
                    self._envelope_left = _ENVELOPE_HEAD.size + int(
                        _ENVELOPE_HEAD.unpack_from(chunk, pos)[1]
                    )
                continue
            take = min(self._left, size - pos)
            if self._model:
                skip = min(self._envelope_left, take)
                self._envelope_left -= skip
                model += take - skip
            pos += take
            self._left -= take
        return model
