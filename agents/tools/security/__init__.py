"""Security modules of the toolsets."""
