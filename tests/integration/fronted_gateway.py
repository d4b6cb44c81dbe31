"""A real reference gateway on 127.0.0.1 behind a scripted front: failures on cue, the rest real.

The agency's reference gateway (`sync.gateway`) serves from a thread of the
test (`gateway_thread.py`) with real keys, a real feed file and a real notice store. A scripted
HTTP server (`tests/scripted_http.py`) stands in front of it: a call to the
endpoint the test names takes the next step of the test's script while the
script lasts; every other call, and every call once the script is spent, is
relayed to the gateway unchanged. So the hub's own client fetches real
tokens, real sealed pages and real signed receipts over real HTTP, and meets
the failures the test scripts exactly where it says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sync.crypto import Party, load_keyring
from sync.gateway.client import GatewayClient
from sync.gateway.oauth import TokenIssuer
from sync.gateway.retry import RetryPolicy
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET
from tests.integration.gateway_thread import base_url, gateway_config, serving
from tests.scripted_http import Call, Relay, ScriptedGateway, Step

# One attempt a call: each scripted failure ends the call that meets it.
ONE_ATTEMPT = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0)
CLIENT_TIMEOUT_SECONDS = (5.0, 30.0)


class FrontedGateway(ScriptedGateway):
    """A scripted server for one endpoint that relays every other call to `upstream`."""

    def __init__(self, upstream: str, endpoint: str) -> None:
        super().__init__([])
        self.upstream = upstream
        self.endpoint = endpoint

    def next_step(self, call: Call) -> Step:
        """The next scripted step for a call to the endpoint, else the gateway's own answer."""
        with self._lock:
            self.calls.append(call)
            if call.endpoint == self.endpoint and self.script:
                return self.script.pop(0)
            return Relay(self.upstream)

    def endpoint_calls(self) -> list[Call]:
        """The calls made to the endpoint, scripted or relayed."""
        with self._lock:
            return [call for call in self.calls if call.endpoint == self.endpoint]

    def delivered_msg_ids(self) -> list[str]:
        """The `msg_id` of each envelope posted to the endpoint, in order."""
        return [str(json.loads(call.body)["header"]["msg_id"]) for call in self.endpoint_calls()]


@contextmanager
def reference_gateway(
    agency: Party,
    keys: Path,
    feed: Path,
    state: Path,
    tokens: TokenIssuer | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[str]:
    """The agency's reference gateway with its keys from `keys`, serving on 127.0.0.1 from a
    thread; its base URL. Gateways given one `tokens` accept each other's bearer tokens, so
    a front may relay a call to either."""
    config = gateway_config(agency, load_keyring(keys, agency), feed, state, tokens, clock)
    with serving(config) as server:
        yield base_url(server)


@contextmanager
def fronted_gateway(
    agency: Party,
    keys: Path,
    feed: Path,
    state: Path,
    endpoint: str,
    tokens: TokenIssuer | None = None,
) -> Iterator[FrontedGateway]:
    """The agency's reference gateway with a scripted front for `endpoint`, both on loopback."""
    with (
        reference_gateway(agency, keys, feed, state, tokens) as upstream,
        FrontedGateway(upstream, endpoint) as front,
    ):
        yield front


def hub_client(url: str, agency: Party, keys: Path) -> GatewayClient:
    """The hub's real client for the gateway at `url`, one attempt a call."""
    return GatewayClient(
        url,
        agency=agency.value,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        keyring=load_keyring(keys, Party.HUB),
        timeout=CLIENT_TIMEOUT_SECONDS,
        retry=ONE_ATTEMPT,
    )
