"""CoAP message format (RFC 7252 section 3) and Block option values (RFC 7959)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsim.coap.message import (
    ACK,
    BLOCK1,
    BLOCK2,
    CON,
    CONTENT,
    GET,
    OBSERVE,
    SIZE1,
    URI_PATH,
    CoapFormatError,
    Message,
    block_value,
    decode,
    encode,
    option_length,
    parse_block,
    uint,
)


def test_a_get_is_the_bytes_the_rfc_draws() -> None:
    """RFC 7252 figure 7 layout: ver 1, CON, TKL 2, 0.01, MID, token, Uri-Path "t"."""
    data = encode(Message(CON, GET, 0x1234, b"\xab\xcd", ((URI_PATH, b"t"),)))
    assert data == bytes([0x42, 0x01, 0x12, 0x34, 0xAB, 0xCD, 0xB1, ord("t")])


def test_option_deltas_use_one_and_two_byte_extensions() -> None:
    """Delta 13..268 takes one extra byte, 269.. two (section 3.1)."""
    msg = Message(ACK, CONTENT, 7, b"", ((OBSERVE, b""), (BLOCK2, b"\x26"), (SIZE1, b"")))
    data = encode(msg)
    # header 4; Observe delta 6 len 0: 1; Block2 delta 17 -> 13 + ext: 1 + 1 + 1; Size1
    # delta 37 -> 13 + ext: 1 + 1; no payload
    assert len(data) == 4 + 1 + 3 + 2
    assert decode(data) == msg
    assert option_length(300, 300) == 1 + 2 + 2 + 300


def test_payload_marker_only_with_a_payload() -> None:
    assert encode(Message(ACK, 0, 1)) == bytes([0x60, 0, 0, 1])
    assert encode(Message(ACK, CONTENT, 1, b"", (), b"x"))[-2:] == b"\xffx"
    with pytest.raises(CoapFormatError):
        decode(bytes([0x60, 0x45, 0, 1, 0xFF]))


def test_uint_is_minimal() -> None:
    assert uint(0) == b""
    assert uint(255) == b"\xff"
    assert uint(256) == b"\x01\x00"


def test_block_values() -> None:
    """NUM << 4 | M << 3 | SZX (RFC 7959 section 2.2); SZX 7 is reserved."""
    assert block_value(0, True, 3) == 0x0B
    assert parse_block(block_value(300, False, 6)) == (300, False, 6)
    with pytest.raises(CoapFormatError):
        parse_block(7)


@given(
    mtype=st.integers(0, 3),
    code=st.integers(0, 255),
    mid=st.integers(0, 65535),
    token=st.binary(max_size=8),
    options=st.lists(
        st.tuples(
            st.sampled_from([1, 6, 11, 12, 15, 23, 27, 28, 60, 300, 2000]), st.binary(max_size=300)
        ),
        max_size=6,
    ),
    payload=st.binary(max_size=100),
)
def test_round_trip(mtype, code, mid, token, options, payload) -> None:
    msg = Message(mtype, code, mid, token, tuple(sorted(options, key=lambda o: o[0])), payload)
    assert decode(encode(msg)) == msg


@pytest.mark.parametrize("data", [b"", b"\x40\x01", b"\x80\x01\x00\x00", b"\x49\x01\x00\x00"])
def test_malformed_datagrams_are_refused(data: bytes) -> None:
    with pytest.raises(CoapFormatError):
        decode(data)


def test_block1_option_number() -> None:
    assert (BLOCK1, BLOCK2, OBSERVE, URI_PATH) == (27, 23, 6, 11)
