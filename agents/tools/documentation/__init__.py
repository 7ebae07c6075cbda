"""Documentation outputs: the service catalogue and runbooks."""
