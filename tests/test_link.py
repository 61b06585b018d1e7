"""Transmitter bookings: FIFO when in time order, gap filling when booked ahead."""

from __future__ import annotations

import pytest

from fedsim.net.link import Transmitter


def test_in_order_bookings_queue_back_to_back() -> None:
    tx = Transmitter("t", 8.0)  # one byte per second
    assert tx.reserve(0.0, 8) == (0.0, 1.0)
    assert tx.reserve(0.0, 16) == (1.0, 3.0)
    assert tx.reserve(5.0, 8) == (5.0, 6.0)
    assert tx.busy_time == pytest.approx(4.0)


def test_a_booking_ahead_does_not_block_the_idle_gap_before_it() -> None:
    """A slow flow's future round must not hold a fast link idle until then."""
    tx = Transmitter("t", 8.0)
    assert tx.reserve(10.0, 8) == (10.0, 11.0)
    assert tx.reserve(0.0, 8) == (0.0, 1.0)  # fits before the future booking
    assert tx.reserve(0.5, 8 * 9.5) == (11.0, 20.5)  # 9.5 s do not fit in [1, 10)
    assert tx.reserve(1.0, 8 * 9) == (1.0, 10.0)  # 9 s exactly fill the gap
    assert tx.busy_until == 20.5


def test_duty_cycle_holds_the_sender_silent() -> None:
    tx = Transmitter("lora", 8.0, duty_cycle=0.01)
    assert tx.reserve(0.0, 8) == (0.0, 1.0)
    assert tx.reserve(0.0, 8) == (100.0, 101.0)  # 1 s on, 99 s off
