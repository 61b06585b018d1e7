"""`fedsim run`'s line says what each figure counts.

Outside findings (redteam7): "4.85 MB moved" was the rounds' payload alone, so a run that
stalled after its first round printed "0.05 MB moved" while its devices had sent 0.11 MB
of payload (2.34 MB on the wire); a run with no accepted round printed the untrained
model's accuracy as its result; a `--no-audit` run read like an audited one; "1 dropouts".
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fake_results import fake_summary

from fedsim.record.audit_status import FAILED, PASSED, UNAUDITED, AuditStatus
from fedsim.record.run_line import bytes_text, metric_text, run_line, seconds_figure

PASS = AuditStatus(PASSED, 28)

DEFAULT = fake_summary(
    scenario="default", rounds=56, accepted_rounds=56, final_metric=0.95258,
    time_to_target_s=3966.0, sim_time_s=3966.0, wall_time_s=1.7,
    bytes_up=2_400_000, bytes_down=2_450_000, wire_bytes_up=2_900_000,
    wire_bytes_down=2_900_000, dropouts={"deadline": 9},
)  # fmt: skip
STALLED = fake_summary(
    rounds=1, accepted_rounds=1, final_metric=0.6017, bytes_up=16140, bytes_down=37324,
    bytes_after_rounds_up=42321, bytes_after_rounds_down=12005, wire_bytes_up=152689,
    wire_bytes_down=241544, wire_bytes_after_rounds_up=1148665,
    wire_bytes_after_rounds_down=792768, dropouts={"deadline": 1},
)  # fmt: skip


def test_the_bytes_are_payload_and_wire_of_the_whole_run() -> None:
    assert bytes_text(DEFAULT) == "4.85 MB payload (5.80 MB wire)"
    assert bytes_text(STALLED) == (
        "0.11 MB payload (2.34 MB wire), 0.05 MB (1.94 MB wire) of it after the last round"
    )


def test_what_came_after_the_last_round_is_said_only_when_it_shows() -> None:
    """Outside audit redteam8, finding 6: "0.00 MB (0.00 MB wire) of it after the last
    round" for the final polls' few hundred bytes."""
    import dataclasses

    polls = dataclasses.replace(
        DEFAULT, bytes_after_rounds_up=120, bytes_after_rounds_down=80,
        wire_bytes_after_rounds_up=1900, wire_bytes_after_rounds_down=2300,
    )  # fmt: skip
    assert bytes_text(polls) == "4.85 MB payload (5.80 MB wire)"
    wire = dataclasses.replace(polls, wire_bytes_after_rounds_down=23_000)
    assert bytes_text(wire).endswith(", 0.00 MB (0.02 MB wire) of it after the last round")


def test_the_default_line() -> None:
    assert run_line(DEFAULT, PASS, "2320", "3966") == (
        "default (sync, fedavg): 56 rounds, accuracy 0.9526, target reached at 3966 s; 3966 s "
        "simulated in 1.70 s (2320x); 4.85 MB payload (5.80 MB wire); 9 dropouts"
    )


def test_one_round_one_dropout() -> None:
    line = run_line(STALLED, PASS, "1", "1")
    assert ": 1 round, accuracy 0.6017;" in line
    assert line.endswith("; 1 dropout")


def test_a_run_without_an_accepted_model_says_so() -> None:
    s = fake_summary(rounds=0, accepted_rounds=0, final_metric=0.1198)
    assert metric_text(s) == "no model accepted (the initial model's accuracy: 0.1198)"
    line = run_line(s, PASS, "1", "1")
    assert "accuracy 0.1198" not in line
    assert "0 rounds, no model accepted" in line
    assert "0.00 MB payload (0.00 MB wire), no round;" in line


def test_an_unaudited_run_says_so() -> None:
    assert run_line(DEFAULT, UNAUDITED, "1", "1").endswith("; not audited (--no-audit)")
    assert "audit" not in run_line(DEFAULT, PASS, "1", "1")
    failed = AuditStatus(FAILED, 28, ("x: y",))
    assert run_line(DEFAULT, failed, "1", "1").endswith("; FAILED (1 violation)")


def test_the_report_card_says_the_initial_model(tmp_path: Path) -> None:
    import dataclasses

    from fake_results import write_synthetic_run

    from fedsim.record.report import write_report
    from fedsim.record.runs import load_run
    from fedsim.record.tables import write_summary

    run = load_run(write_synthetic_run(tmp_path, name="r", seed=1))
    summary = dataclasses.replace(run.summary, accepted_rounds=0)
    write_summary(run.path / "summary.json", summary)
    html = write_report(run.path).read_text(encoding="utf-8")
    assert "<span>initial model (none accepted)</span>" in html


def test_the_target_time_and_the_run_time_never_contradict() -> None:
    """Outside audit redteam9, finding 3: "target reached at 10 s; 9.6 s simulated" and
    "target reached at 0 s" (`.0f` for the target, two significant digits for the run)."""
    short = dataclasses.replace(DEFAULT, time_to_target_s=9.55, sim_time_s=9.6)
    line = run_line(short, PASS, "1", seconds_figure(short.sim_time_s))
    assert "target reached at 9.55 s; 9.6 s simulated" in line
    early = dataclasses.replace(DEFAULT, time_to_target_s=0.312, sim_time_s=0.5)
    assert "target reached at 0.312 s;" in run_line(early, PASS, "1", "0.5")
    assert seconds_figure(99.96) == "100"
    assert seconds_figure(3966.0) == "3966"  # README.md's quick-start line stays as it is
    assert seconds_figure(123.4) == "123"
