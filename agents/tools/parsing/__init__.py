"""Parsing modules of the toolsets."""
