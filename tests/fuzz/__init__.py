"""Scenario fuzzing: Hypothesis strategies that build valid topology mappings
(docs/topology.md, docs/connectivity.md) and a runner that puts each one through
the real stack and the run auditor. See docs/testing.md."""
