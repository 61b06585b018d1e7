"""Blockwise transfers (RFC 7959) on the client side: a body posted block by block
(Block1), and a representation fetched block by block (Block2) after its first
block came in a notification (section 2.6)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from fedsim.coap.endpoint import CoapError, Endpoint
from fedsim.coap.message import (
    BLOCK1,
    BLOCK2,
    CONTENT,
    CONTINUE,
    GET,
    POST,
    URI_PATH,
    URI_QUERY,
    Message,
    block_value,
    parse_block,
    uint,
)

__all__ = ["fetch_rest", "post_blocks", "szx_of"]


def szx_of(size: int) -> int:
    """RFC 7959's SZX: size = 2 ** (SZX + 4), 16 to 1024."""
    if size not in (16, 32, 64, 128, 256, 512, 1024):
        raise ValueError(f"block size {size} is not a power of two from 16 to 1024")
    return size.bit_length() - 5


async def post_blocks(
    endpoint: Endpoint,
    peer: Hashable,
    path: bytes,
    body: bytes,
    block_size: int,
    query: Sequence[bytes] = (),
    after_block: Callable[[], None] | None = None,
) -> Message:
    """POST `body` in blocks of `block_size` (Uri-Query on block 0 only); the final
    response, or the first that is not 2.31 Continue. `after_block` may raise to
    abandon the transfer (the path broke)."""
    szx = szx_of(block_size)
    count = max(1, -(-len(body) // block_size))
    response: Message | None = None
    for num in range(count):
        more = num < count - 1
        options = [(URI_PATH, path), (BLOCK1, uint(block_value(num, more, szx)))]
        if num == 0:
            options.extend((URI_QUERY, q) for q in query)
        chunk = body[num * block_size : (num + 1) * block_size]
        response = await endpoint.request(peer, POST, options, chunk)
        if after_block is not None:
            after_block()
        if more and response.code != CONTINUE:
            return response
    assert response is not None
    return response


async def fetch_rest(
    endpoint: Endpoint,
    peer: Hashable,
    path: bytes,
    first: Message,
    check: Callable[[Message], None] | None = None,
) -> bytes:
    """The representation whose first block is `first`: GET each further block
    (Block2: num, szx as the first one gave) until one says no more. `check` sees
    every response first (it may raise on an error code)."""
    parts = [first.payload]
    block = first.uint_option(BLOCK2)
    num, more, szx = parse_block(block) if block is not None else (0, False, 6)
    while more:
        num += 1
        options = [(URI_PATH, path), (BLOCK2, uint(block_value(num, False, szx)))]
        answer = await endpoint.request(peer, GET, options)
        if check is not None:
            check(answer)
        got = answer.uint_option(BLOCK2)
        if answer.code != CONTENT or got is None or parse_block(got)[0] != num:
            raise CoapError(f"block {num} answered {answer.code >> 5}.{answer.code & 31:02d}")
        parts.append(answer.payload)
        more = parse_block(got)[1]
    return b"".join(parts)
