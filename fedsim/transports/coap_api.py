"""The FL API over CoAP: resources, codes and block sizes both ends agree on.

    POST r   JSON {client_id, num_examples, device} (Block1 if long)  -> 2.04
    GET  t   Observe: 0, Block2: (0, szx)  registers for tasks         -> 2.05 (Observe: n)
             notification (CON): 2.05, Observe, Block2 (0, M, szx), the envelope's block 0
    GET  t   Block2: (num, szx): the rest of the task envelope          -> 2.05 (Block2)
    POST u   Block1: (num, M, szx), Uri-Query r=<round> on block 0       -> 2.31 ... 2.04

The server knows a client by its source address, bound at registration (as a DTLS
or OSCORE security context would bind it), so blocks carry no client id. One-letter
paths because every byte counts on a 1 % LoRa channel.
"""

from __future__ import annotations

from fedsim.coap.message import code

__all__ = [
    "CODE_FOR_STATUS", "FINISHED", "GONE_BLOCKS", "NOT_FOUND", "REGISTER", "TASK", "UPDATE",
    "block_size_for",
]  # fmt: skip

REGISTER, TASK, UPDATE = b"r", b"t", b"u"
BAD_REQUEST, FORBIDDEN, NOT_FOUND = code(4, 0), code(4, 3), code(4, 4)
GONE_BLOCKS = code(4, 8)
"""4.08 Request Entity Incomplete: a block out of order (RFC 7959 section 2.9.2)."""
FINISHED = FORBIDDEN
"""The federation is over (CoAP has no 410 Gone): the client stops."""
CODE_FOR_STATUS = {
    400: BAD_REQUEST,
    404: NOT_FOUND,
    409: code(4, 9),  # Conflict (RFC 8132)
    413: code(4, 13),
}

OVERHEAD = 24
"""CoAP header, token and options of the largest block message (a Block1 POST with
its round query), rounded up: a block plus this must fit one datagram."""


def block_size_for(max_datagram: int, wanted: int | None = None) -> int:
    """The block size: `wanted`, or the largest power of two from 16 to 1024 whose
    message fits a datagram of `max_datagram` bytes."""
    if wanted is not None:
        return wanted
    size = 1024
    while size > 16 and size + OVERHEAD > max_datagram:
        size //= 2
    return size
