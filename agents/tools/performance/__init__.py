"""Performance outputs: live right-sizing from Prometheus."""
