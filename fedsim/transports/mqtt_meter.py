"""Which MQTT bytes are model, for the byte ledger: MQTT 3.1.1 framing followed per
write, never per byte.

The ledger's `model_bytes` are the encoded tensors of model envelopes
(`fedsim.fl.codec`), whatever carries them: over HTTP `fedsim.net.http_bytes` follows
the HTTP framing, over CoAP `coap_meter` the blocks; here a PUBLISH's payload (after
its fixed header, topic and packet id) is an envelope when it starts with the
envelope's magic, and everything after the envelope's own header is model. Every
other packet (CONNECT, SUBSCRIBE, PUBACK, PINGREQ, ...) and every other payload
(registrations, polls, `finished`) is protocol. A packet may span writes and a write
may hold several packets: a few bytes of a packet's head are kept until it can be
read, then its length is counted down.
"""

from __future__ import annotations

import struct

from fedsim.fl.codec import MAGIC

__all__ = ["MqttModelBytes"]

_ENVELOPE_HEAD = struct.Struct("<4sI")
_PUBLISH = 3


def _varint(buf: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """MQTT's Remaining Length at `at`: (value, offset after it); None: not all here.
    Raises ValueError past four bytes (not MQTT)."""
    value, shift = 0, 0
    for k in range(4):
        if at + k >= len(buf):
            return None
        byte = buf[at + k]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at + k + 1
        shift += 7
    raise ValueError("remaining length longer than four bytes")


def _model_span(head: bytes | bytearray) -> tuple[int, int] | None:
    """For a packet that starts `head`: (its length, where its model bytes start; the
    length when it carries none); None: more of its head is needed to tell."""
    remaining = _varint(head, 1)
    if remaining is None:
        return None
    length, body = remaining
    end = body + length
    if head[0] >> 4 != _PUBLISH:
        return end, end
    if len(head) < body + 2:
        return None if end >= body + 2 else (end, end)
    qos = (head[0] >> 1) & 3
    payload = body + 2 + int.from_bytes(head[body : body + 2], "big") + (2 if qos else 0)
    if end - payload < _ENVELOPE_HEAD.size:
        return end, end  # too short to be an envelope (a poll, `finished`)
    if len(head) < payload + _ENVELOPE_HEAD.size:
        return None
    magic, header = _ENVELOPE_HEAD.unpack_from(head, payload)
    if magic != MAGIC:
        return end, end
    return end, min(end, payload + _ENVELOPE_HEAD.size + header)


class MqttModelBytes:
    """One direction of one MQTT connection: how many of each write's bytes are model
    (a `fedsim.net.transport.ModelMeter`)."""

    __slots__ = ("_at", "_end", "_head", "_lost", "_model_from")

    def __init__(self) -> None:
        self._head = bytearray()
        """The current packet's first bytes while its length is not known yet."""
        self._end = -1
        """The current packet's length (-1: its head is still being read)."""
        self._model_from = 0
        """Where in the current packet its model bytes begin (= `_end`: none)."""
        self._at = 0
        """Bytes of the current packet already written."""
        self._lost = False
        """The stream is not MQTT: everything after is protocol."""

    def count(self, chunk: bytes) -> int:
        """Model bytes in `chunk`, the next bytes written in this direction."""
        model, pos, size = 0, 0, len(chunk)
        while pos < size and not self._lost:
            if self._end < 0:
                start = len(self._head)
                window = 64  # a head is a few bytes and a topic: copy that, not the body
                while True:
                    head = self._head + chunk[pos : pos + window]
                    try:
                        span = _model_span(head)
                    except ValueError:
                        self._lost = True
                        return model
                    if span is not None or pos + window >= size:
                        break
                    window *= 4
                if span is None:
                    self._head = head
                    return model  # all of it is head, none of it model (see _model_span)
                self._end, self._model_from = span
                self._head = bytearray()
                self._at = start  # the kept bytes were head: protocol
            take = min(self._end - self._at, size - pos)
            stop = self._at + take
            model += max(0, stop - max(self._at, self._model_from))
            self._at = stop
            pos += take
            if self._at == self._end:
                self._end, self._at = -1, 0
        return model
