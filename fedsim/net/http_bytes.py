"""Which application bytes are model: HTTP framing followed per write, never per byte.

The byte ledger splits the payload a connection carries into the model (the encoded
tensors of a model envelope, `fedsim.fl.codec`) and protocol (HTTP request and status
lines, headers, long polls, registrations, status answers, the envelope's own header).
A write is one HTTP message or part of one; its head names the body's length (or says
the body is chunked: a streamed answer whose head leaves before its body, each chunk
then naming its own length), and a body that starts with the envelope's magic carries a
model. Bodies that span writes are followed by a count of bytes left, so a write costs
one `find` and, on a head or a chunk-size line, a lookup: no work per byte.
"""

from __future__ import annotations

import struct

MAGIC = b"FSM1"
"""A model envelope's first bytes (`fedsim.fl.codec.MAGIC`; net never imports fl, and
tests/test_ledger.py checks the two agree)."""

__all__ = ["ModelBytes"]

_ENVELOPE_HEAD = struct.Struct("<4sI")
_HEAD_END = b"\r\n\r\n"
_CRLF = b"\r\n"
_LENGTH = b"\ncontent-length:"
_CHUNKED = b"\ntransfer-encoding: chunked"


def _body_framing(head: bytes) -> tuple[int, bool]:
    """(Content-Length, 0 when absent: a GET, a 204; whether the body is chunked)."""
    low = head.lower()
    chunked = _CHUNKED in low
    at = low.find(_LENGTH)
    if at < 0:
        return 0, chunked
    start = at + len(_LENGTH)
    end = head.find(b"\r", start)
    try:
        return int(head[start : end if end >= 0 else None]), chunked
    except ValueError:
        return 0, chunked


class ModelBytes:
    """One direction of one connection: how many of each write's bytes are model."""

    __slots__ = ("_chunked", "_crlf_due", "_envelope_left", "_first", "_left", "_model")

    def __init__(self) -> None:
        self._left = 0
        """Body bytes of the current message (or of its current chunk) not yet written."""
        self._chunked = False
        """The current body is chunked (a streamed answer: its head left first)."""
        self._crlf_due = False
        """A chunk's data ended: its CRLF comes before the next chunk-size line."""
        self._first = False
        """The current body's first byte is still to come (is it an envelope?)."""
        self._model = False
        """The current body is a model envelope."""
        self._envelope_left = 0
        """Bytes of the envelope's own header (protocol) not yet written."""

    def count(self, chunk: bytes) -> int:
        """Model bytes in `chunk`, the next bytes written in this direction."""
        model = 0
        pos, size = 0, len(chunk)
        while pos < size:
            left = self._left
            if left:
                take = left if left < size - pos else size - pos  # (`min`, without the call)
                if self._first:
                    self._first = False
                    if chunk.startswith(MAGIC, pos) and size - pos >= 8:
                        self._model = True
                        self._envelope_left = _ENVELOPE_HEAD.size + int(
                            _ENVELOPE_HEAD.unpack_from(chunk, pos)[1]
                        )
                if self._model:
                    skip = self._envelope_left
                    if skip > take:
                        skip = take
                    self._envelope_left -= skip
                    model += take - skip
                pos += take
                self._left = left - take
                continue
            if self._chunked:
                pos = self._chunk_line(chunk, pos)
                continue
            end = chunk.find(_HEAD_END, pos)
            if end < 0:
                return model  # not an HTTP head (aiohttp writes heads whole): protocol
            self._left, self._chunked = _body_framing(chunk[pos:end])
            self._crlf_due = False
            self._first, self._model = True, False
            pos = end + 4  # len(_HEAD_END)
        return model

    def _chunk_line(self, chunk: bytes, pos: int) -> int:
        """Past a chunked body's framing at `pos`: a data CRLF, a size line, the end."""
        if self._crlf_due:
            self._crlf_due = False
            return pos + len(_CRLF) if chunk.startswith(_CRLF, pos) else pos
        end = chunk.find(_CRLF, pos)
        if end < 0:
            self._chunked = False  # not framing aiohttp writes: the rest is protocol
            return len(chunk)
        try:
            self._left = int(chunk[pos:end].split(b";", 1)[0], 16)
        except ValueError:
            self._chunked = False
            return len(chunk)
        pos = end + len(_CRLF)
        if self._left:
            self._crlf_due = True
            return pos
        self._chunked = False  # the last chunk; aiohttp writes no trailers
        return pos + len(_CRLF) if chunk.startswith(_CRLF, pos) else pos
