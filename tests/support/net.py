"""Loopback ports for the servers tests and benchmarks start (and for endpoints that are down)."""

from __future__ import annotations

import socket

__all__ = ["closed_port_url", "free_port"]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens: a server that is down."""
    return f"http://127.0.0.1:{free_port()}"
