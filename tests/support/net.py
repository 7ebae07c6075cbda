"""Loopback ports for the servers tests and benchmarks start (and for endpoints that are down)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["closed_port_url", "free_port", "silent_server_url"]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens: a server that is down."""
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def silent_server_url() -> Iterator[str]:
    """An http URL on loopback that accepts connections and never answers: a server that hangs
    (a stuck proxy, a bucket behind a dead load balancer), unlike one that is down."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)  # the kernel accepts on our behalf; nobody ever reads or writes
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
