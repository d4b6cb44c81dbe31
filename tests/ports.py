"""Loopback ports for tests: one the system has just handed out, so parallel runs never collide."""

from __future__ import annotations

import socket


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listened on a moment ago (bound to port 0, then freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
