"""Every emulated run goes through device authentication: each request is signed
and verified (seed-derived keys, virtual clock), and a healthy run sees no refusal."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from topo import tiny_topology

import fedsim.fl.auth as auth
from fedsim.run import simulate
from fedsim.scenario import parse_scenario


def test_an_emulated_run_signs_and_verifies_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: Counter[str] = Counter()
    real_canonical = auth.canonical

    def canonical(*args: Any) -> bytes:
        seen["canonical"] += 1  # once by the signer, once by the verifier
        return real_canonical(*args)

    def deny(status: int, reason: str) -> Any:
        seen[reason] += 1
        raise AssertionError(f"an emulated request was refused: {reason}")

    monkeypatch.setattr(auth, "canonical", canonical)
    monkeypatch.setattr(auth, "_deny", deny)
    result = simulate(parse_scenario(tiny_topology(fl__rounds=2)), audit=False)
    assert [r.reported for r in result.rounds] == [4, 4]
    assert seen["canonical"] > 0
    assert seen["canonical"] % 2 == 0
    assert set(seen) == {"canonical"}
