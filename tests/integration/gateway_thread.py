"""The reference gateway serving on 127.0.0.1 from a thread of the test.

One way for every test that needs a gateway in its own process: the gateway
of a `GatewayConfig` is served until the test's block ends, then stopped and
its notice store closed. `tests/integration/gateway_process.py` starts one as
`arms-sync gateway` in a process of its own instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sync.crypto import KeyRing, Party
from sync.gateway.faults import FaultInjector
from sync.gateway.feed import FeedFile
from sync.gateway.oauth import TokenIssuer
from sync.gateway.retry import utc_now
from sync.gateway.server import GatewayServer, build_server, serve_until
from sync.gateway.service import Gateway, GatewayConfig
from sync.gateway.store import NoticeStore
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET


def hub_tokens() -> TokenIssuer:
    """The bearer tokens a gateway issues the hub for its client credentials."""
    return TokenIssuer(CLIENT_ID, CLIENT_SECRET)


def gateway_config(
    agency: Party,
    keyring: KeyRing,
    feed: Path,
    state: Path,
    tokens: TokenIssuer | None = None,
    clock: Callable[[], datetime] | None = None,
) -> GatewayConfig:
    """An agency gateway's configuration: its keys, its feed file, a notice store in `state`,
    the hub's tokens (or `tokens`, shared with other gateways) and a clock dating what it
    seals (else the time now)."""
    return GatewayConfig(
        agency=agency,
        keyring=keyring,
        feed=FeedFile(feed),
        store=NoticeStore(state),
        tokens=tokens or hub_tokens(),
        clock=clock or utc_now,
    )


@contextmanager
def serving(config: GatewayConfig, faults: FaultInjector | None = None) -> Iterator[GatewayServer]:
    """The gateway of `config` serving on 127.0.0.1 (a port of its own) until the block ends;
    then stopped, and its notice store closed."""
    server = build_server(Gateway(config), host="127.0.0.1", port=0, faults=faults)
    stop = threading.Event()
    thread = threading.Thread(target=serve_until, args=(server, stop), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        config.store.close()


def base_url(server: GatewayServer) -> str:
    """The URL a client calls the served gateway at."""
    return f"http://127.0.0.1:{server.port}"
