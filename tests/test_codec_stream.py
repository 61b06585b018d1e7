"""int8's stochastic rounding has its own random stream, apart from the training's.

Review note (session 14): one generator fed both a device's SGD shuffles and int8's
rounding, so switching the codec from float32 to int8 also changed the order every
device trained in from its second round on, and a sweep's "paired" comparison of codecs
was not paired. Now the same seed trains in the same order whatever the codec.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from topo import tiny_topology

from fedsim.fl.client import FLClient
from fedsim.run import simulate
from fedsim.scenario import parse_scenario


def _training_draws(codec: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Per device, its training generator's state as each of its trainings starts."""
    seen: dict[str, list[Any]] = {}
    real = FLClient._train

    async def spy(self: FLClient, params: np.ndarray, config: dict[str, Any]) -> Any:
        seen.setdefault(self.client_id, []).append(self.rng.bit_generator.state["state"])
        return await real(self, params, config)

    with monkeypatch.context() as patch:
        patch.setattr(FLClient, "_train", spy)
        simulate(parse_scenario(tiny_topology(fl__rounds=3, fl__codec=codec)))
    return seen


def test_the_codec_does_not_change_the_training_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """On main the second round's states differ under int8: the first round's rounding
    drew from the training's generator."""
    plain = _training_draws("float32", monkeypatch)
    rounded = _training_draws("int8", monkeypatch)
    assert sorted(plain) == sorted(rounded) == [f"dev-{i}" for i in range(1, 5)]
    assert all(len(states) == 3 for states in plain.values())  # every round
    assert rounded == plain


def test_a_client_without_a_named_codec_stream_still_keeps_them_apart() -> None:
    """A client built without `codec_rng` (tests, embedders) rounds from a child of its
    training generator: spawning draws nothing from the parent."""
    rng = np.random.default_rng(7)
    before = rng.bit_generator.state
    client = FLClient("d", "http://fl", None, None, None, rng, codec="int8")  # type: ignore[arg-type]
    assert client.codec_rng is not rng
    assert rng.bit_generator.state == before
