"""The names of the auditor's invariants, for readers of audit.json.

A results reader (`fedsim.record.audit_status`) may not import the auditor (it lives
above the network model; tests/test_layers.py), yet an audit.json that names invariants
fedsim never had (hand-written, or edited) must not read as passed. This list is the
auditor's registry, spelled out; tests/test_audit_status.py fails when they differ.
"""

from __future__ import annotations

__all__ = ["DEPLOYMENT_INVARIANTS", "KNOWN_INVARIANTS"]

KNOWN_INVARIANTS = frozenset(
    (
        "accepted-was-trained",
        "acknowledged-was-accepted",
        "async-end-settled",
        "booked-airtime-charged",
        "busy-matches-bytes",
        "busy-matches-radio",
        "bytes-match-links",
        "bytes-nonnegative",
        "bytes-reconcile",
        "carried-while-down",
        "causes-fit-transport",
        "compute-matches-work",
        "delivered-over-down-element",
        "device-airtime-matches-link",
        "down-intervals-match-scenario",
        "down-time-matches-evidence",
        "down-time-matches-scenario",
        "down-time-within-run",
        "dropouts-reconcile",
        "drops-reconcile",
        "energy-within-battery",
        "evidence-present",
        "final-model-scores",
        "final-scores-metric",
        "held-matches-busy",
        "held-within-run",
        "ledger-reconciles",
        "link-counts-nonnegative",
        "model-bytes-match-updates",
        "model-within-data",
        "nothing-after-end",
        "overhead-share-bounded",
        "participation-reconcile",
        "refusals-told",
        "retransmissions-consistent",
        "rl-compute-matches-play",
        "rl-play-counted",
        "round-energy-spent",
        "rounds-completed",
        "silent-radio-at-rest",
        "spent-all-ran-dry",
        "surplus-had-no-cause",
        "timeline-covers-run",
        "timeline-inside-run",
        "timeline-no-overlap",
        "update-norm-is-step",
        "update-over-down-path",
        "updates-match-server",
        "updates-reconcile",
    )
)

DEPLOYMENT_INVARIANTS = frozenset(
    (
        "bytes-nonnegative",
        "bytes-reconcile",
        "dropouts-reconcile",
        "final-model-scores",
        "final-scores-metric",
        "participation-reconcile",
        "rounds-completed",
        "updates-reconcile",
    )
)
"""The invariants a deployment's audit checks (those whose declared sources a deployment
has: `fedsim.audit.applicable(fedsim.deployment.audit.DEPLOYMENT_SOURCES)`, which
tests/test_deploy_audit.py compares with this list). A deployment's audit.json that
calls one of these not applicable was not written by fedsim's audit."""
