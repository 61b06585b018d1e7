"""`fedsim show`'s upload size is what a run's uploads carry (outside review 2, finding
6: it left out the upload's metrics and the device's Authorization header, ~128 B: 3008 B
shown against ~3134 B sent for float32)."""

from __future__ import annotations

import numpy as np
import pytest
from topo import tiny_topology

from fedsim.run import simulate
from fedsim.scenario import parse_scenario
from fedsim.show import model_sizes

TOLERANCE_B = 16
"""What varies between one upload and the next: the digits of the metrics' values and of
the signature's timestamp."""


@pytest.mark.parametrize(
    "changes",
    [
        {"fl__codec": "float32"},
        {"fl__codec": "int8"},
        {"fl__codec": "topk"},
        {"fl__codec": "int8", "fl__local__federated_eval": "true"},
        {"fl__codec": "int8", "fl__transport": "mqtt"},
    ],
    ids=["float32", "int8", "topk", "federated_eval", "mqtt"],
)
def test_show_upload_is_a_runs_upload(changes: dict[str, str]) -> None:
    sc = parse_scenario(tiny_topology(**changes))
    shown = model_sizes(sc).upload
    m = simulate(sc).evidence.messages
    up = m.payload[(m.direction == 0) & (m.payload > shown // 2)]
    assert up.size >= 3  # every round's uploads
    assert np.all(np.abs(up - shown) <= TOLERANCE_B), (shown, sorted(set(up.tolist())))
