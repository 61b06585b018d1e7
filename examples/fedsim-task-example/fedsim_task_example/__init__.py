"""An example fedsim task plug-in (docs/tasks.md): vibration anomaly detection."""
