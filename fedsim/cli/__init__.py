"""The `fedsim` command tree: one click group, one small module per command group.

Command modules parse flags and print; the work happens in library functions
(fedsim.run, fedsim.scenario, fedsim.record.*, fedsim.sweep, fedsim.net.*,
fedsim.deploy), imported inside each command so `fedsim validate` and `fedsim schema`
start without the network stack, Numba or plotting.
"""

from fedsim.cli.app import fedsim, main

__all__ = ["fedsim", "main"]
