"""CoAP messages on the wire (RFC 7252 section 3), with the Block (RFC 7959) and
Observe (RFC 7641) option values.

    0                   1                   2                   3
    |Ver| T |  TKL  |      Code     |          Message ID           |
    |   Token (TKL bytes) ...  |   Options ...  | 0xFF | Payload ...

A 4-byte header, the token, options as (delta, length) nibbles with 1- or 2-byte
extensions, and the payload after a 0xFF marker when there is one. Bytes on the
emulated wire are these bytes exactly, so the tests can count them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ACK", "BLOCK1", "BLOCK2", "CON", "CONTENT_FORMAT", "NON", "OBSERVE", "RST",
    "SIZE1", "SIZE2", "URI_PATH", "URI_QUERY", "CoapFormatError", "Message",
    "block_value", "code", "decode", "encode", "option_length", "parse_block", "uint",
]  # fmt: skip

CON, NON, ACK, RST = 0, 1, 2, 3
"""Message types: confirmable, non-confirmable, acknowledgement, reset."""

OBSERVE = 6
URI_PATH = 11
CONTENT_FORMAT = 12
URI_QUERY = 15
BLOCK2 = 23
BLOCK1 = 27
SIZE2 = 28
SIZE1 = 60


def code(cls: int, detail: int) -> int:
    """The code `c.dd` (RFC 7252 section 3: 3-bit class, 5-bit detail)."""
    return cls << 5 | detail


EMPTY = 0
GET, POST = code(0, 1), code(0, 2)
CREATED, CHANGED, CONTENT, CONTINUE = code(2, 1), code(2, 4), code(2, 5), code(2, 31)


class CoapFormatError(ValueError):
    """A datagram that is not a well-formed CoAP message (it is dropped, or RST)."""


@dataclass(frozen=True)
class Message:
    mtype: int
    code: int
    mid: int
    token: bytes = b""
    options: tuple[tuple[int, bytes], ...] = field(default_factory=tuple)
    """(number, value) pairs in ascending number order (repeats allowed)."""
    payload: bytes = b""

    def option(self, number: int) -> bytes | None:
        """The first value of option `number`, or None."""
        for num, value in self.options:
            if num == number:
                return value
        return None

    def values(self, number: int) -> list[bytes]:
        return [v for n, v in self.options if n == number]

    def uint_option(self, number: int) -> int | None:
        value = self.option(number)
        return None if value is None else int.from_bytes(value, "big")

    @property
    def is_request(self) -> bool:
        return 1 <= self.code < 32

    @property
    def path(self) -> str:
        return "/".join(v.decode() for v in self.values(URI_PATH))


def uint(value: int) -> bytes:
    """An option's uint value in the fewest bytes (0 is empty, RFC 7252 section 3.2)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _nibble(n: int) -> tuple[int, bytes]:
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes([n - 13])
    return 14, (n - 269).to_bytes(2, "big")


def option_length(delta: int, length: int) -> int:
    """Bytes an option takes: 1 + its delta and length extensions + its value."""
    return 1 + len(_nibble(delta)[1]) + len(_nibble(length)[1]) + length


def encode(msg: Message) -> bytes:
    if not 0 <= msg.mid < 65536 or len(msg.token) > 8:
        raise CoapFormatError("message id must fit 16 bits and a token 8 bytes")
    out = bytearray(
        (1 << 6 | msg.mtype << 4 | len(msg.token), msg.code, msg.mid >> 8, msg.mid & 0xFF)
    )
    out += msg.token
    last = 0
    for number, value in sorted(msg.options, key=lambda o: o[0]):
        d, dext = _nibble(number - last)
        n, lext = _nibble(len(value))
        out.append(d << 4 | n)
        out += dext + lext + value
        last = number
    if msg.payload:
        out.append(0xFF)
        out += msg.payload
    return bytes(out)


def _extended(nib: int, data: bytes, i: int) -> tuple[int, int]:
    if nib < 13:
        return nib, i
    if nib == 13:
        return data[i] + 13, i + 1
    if nib == 14:
        return int.from_bytes(data[i : i + 2], "big") + 269, i + 2
    raise CoapFormatError("option nibble 15 outside the payload marker")


def decode(data: bytes) -> Message:
    if len(data) < 4:
        raise CoapFormatError("shorter than the 4-byte header")
    first = data[0]
    if first >> 6 != 1:
        raise CoapFormatError("version is not 1")
    tkl = first & 0x0F
    if tkl > 8 or len(data) < 4 + tkl:
        raise CoapFormatError("bad token length")
    i = 4 + tkl
    options: list[tuple[int, bytes]] = []
    number = 0
    payload = b""
    try:
        while i < len(data):
            byte = data[i]
            if byte == 0xFF:
                payload = data[i + 1 :]
                if not payload:
                    raise CoapFormatError("payload marker without a payload")
                break
            delta, i = _extended(byte >> 4, data, i + 1)
            length, i = _extended(byte & 0x0F, data, i)
            number += delta
            if i + length > len(data):
                raise CoapFormatError("option runs past the datagram")
            options.append((number, data[i : i + length]))
            i += length
    except IndexError:
        raise CoapFormatError("truncated option") from None
    return Message(
        (first >> 4) & 3,
        data[1],
        data[2] << 8 | data[3],
        data[4 : 4 + tkl],
        tuple(options),
        payload,
    )


def block_value(num: int, more: bool, szx: int) -> int:
    """Block1/Block2 value (RFC 7959 section 2.2): NUM, M bit, SZX (size 2**(szx+4))."""
    return num << 4 | int(more) << 3 | szx


def parse_block(value: int) -> tuple[int, bool, int]:
    szx = value & 7
    if szx == 7:
        raise CoapFormatError("block SZX 7 is reserved")
    return value >> 4, bool(value & 8), szx
