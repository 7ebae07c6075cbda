"""DevOps outputs: the inventory of the target and remediation patches."""
