"""`arms-sync gateway`: run a reference agency gateway over HTTP(S).

The gateway serves a plain JSON Lines feed sealed page by page to the hub, and
accepts sealed notice batches, answering each with a signed receipt. It stands
in for an agency system in the demo and the tests. On start it prints one line,
`listening on http://HOST:PORT`, and it shuts down cleanly on SIGTERM or SIGINT,
saying on stderr how many requests each endpoint received (and how many came
without a valid bearer token) and which faults it injected.

Its key ring is read again whenever its files change (`sync.gateway.keys`), so
a key rotated, revoked or imported is taken up at the next request. A gateway
whose own signing key or the hub's keys are revoked (the new ones not yet
made or imported) still starts, warns on stderr, and answers what needs them
with 503 (or refuses the hub's envelopes) until they are there. A key
directory without this agency's private keys, or the private file of its
active signing key, or without any key of the hub, is refused (exit 2).
"""

from __future__ import annotations

import signal
import ssl
import threading
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from types import FrameType

import click

from sync.cli.context import AGENCY_CHOICE, output_folder
from sync.cli.keys_cmd import key_dir_option, resolve_key_dir
from sync.crypto.keys import KeyRing, KeyUse, Party
from sync.errors import ConfigurationError, KeyError_, UsageError
from sync.gateway.faults import DEFAULT_FAULT_DELAY_SECONDS, RETRY_AFTER_SECONDS, FaultInjector
from sync.gateway.feed import FeedFile
from sync.gateway.keys import LiveKeyRing
from sync.gateway.oauth import DEFAULT_TOKEN_TTL_SECONDS, TokenIssuer
from sync.gateway.server import GatewayServer, build_server, serve_until, tls_context
from sync.gateway.service import (
    DEFAULT_MAX_SKEW_SECONDS,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MIN_PAGE_SIZE,
    Gateway,
    GatewayConfig,
)
from sync.gateway.store import NoticeStore

CLIENT_ID_ENV = "ARMS_SYNC_GATEWAY_CLIENT_ID"
CLIENT_SECRET_ENV = "ARMS_SYNC_GATEWAY_CLIENT_SECRET"  # noqa: S105 - a variable name
DEFAULT_HOST = "127.0.0.1"
DEFAULT_STATE_DIR = Path("gateway-state")
MIN_PORT = 0
MAX_PORT = 65535


def _keyring(key_dir: Path, agency: Party) -> LiveKeyRing:
    """The gateway's key ring, read again as its files change; refused when never set up.

    Keys missing for now (its own revoked, the hub's revoked and the new ones
    not yet imported) are a warning: the gateway answers what needs them with
    503 (or refuses the hub's envelopes) until they are there. An active
    signing key whose private file is missing is refused: restore the file.
    """
    keys = LiveKeyRing(key_dir, agency)
    keyring = keys.current()
    if not keyring.holds_keys_of(Party.HUB):
        raise KeyError_(
            "the key ring holds no keys of the hub; import them with "
            "`arms-sync keys import --party hub RING`."
        )
    if keyring.lacks_active_key(keyring.me, KeyUse.SIGN) is None:
        keyring.own_signing_key()  # raises when its private key file is not there
    for lacking, meanwhile in _lacking_keys(keyring):
        told = lacking.rstrip(".")
        click.echo(f"Warning: {told[:1].upper()}{told[1:]}; until then {meanwhile}.", err=True)
    return keys


def _lacking_keys(keyring: KeyRing) -> list[tuple[str, str]]:
    """Each key the gateway lacks for now: why (one sentence), and what it answers meanwhile."""
    lacking = []
    own = keyring.lacks_active_key(keyring.me, KeyUse.SIGN)
    if own is not None:
        lacking.append((str(own), "this gateway answers notices and feed pages with 503"))
    hub_keys = (
        (KeyUse.ENCRYPT, "this gateway answers feed pages with 503"),
        (KeyUse.SIGN, "this gateway refuses the hub's new notice batches"),
    )
    for use, meanwhile in hub_keys:
        missing = keyring.lacks_active_key(Party.HUB, use)
        if missing is not None:
            lacking.append((str(missing), meanwhile))
    return lacking


def _tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if (cert is None) != (key is None):
        raise click.UsageError("pass both --tls-cert and --tls-key, or neither.")
    if cert is None or key is None:
        return None
    try:
        return tls_context(cert, key)
    except (OSError, ValueError) as error:
        raise ConfigurationError("the TLS certificate or key cannot be loaded.") from error


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def _handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


@click.command("gateway", params=[key_dir_option("--keys")])
@click.option("--agency", type=AGENCY_CHOICE, required=True, help="The agency this gateway is.")
@click.option(
    "--feed",
    "feed_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Plain JSON Lines feed to serve.",
)
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(MIN_PORT, MAX_PORT),
    default=MIN_PORT,
    show_default=True,
    help="Port (0 picks a free one and prints it).",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for received notices and receipts (default: gateway-state/AGENCY).",
)
@click.option("--client-id", envvar=CLIENT_ID_ENV, show_envvar=True, help="OAuth2 client id.")
@click.option(
    "--client-secret",
    envvar=CLIENT_SECRET_ENV,
    show_envvar=True,
    help="OAuth2 client secret; give it by the variable: a command line is seen by every user.",
)
@click.option(
    "--page-size",
    type=click.IntRange(MIN_PAGE_SIZE, MAX_PAGE_SIZE),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="Records per page when the client gives no limit.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of token, feed and notice requests failed on purpose, to test a client: "
    "a 500, a 503, a slow answer, a dropped connection or a garbled body.",
)
@click.option("--fault-seed", type=int, default=None, help="Seed for the injected faults.")
@click.option(
    "--fault-delay",
    type=click.FloatRange(min=0.0),
    default=DEFAULT_FAULT_DELAY_SECONDS,
    show_default=True,
    help="Seconds a 'slow' fault holds its answer.",
)
@click.option(
    "--fault-retry-after",
    type=click.IntRange(min=0),
    default=RETRY_AFTER_SECONDS,
    show_default=True,
    help="Seconds of the Retry-After a '503' fault answers with.",
)
@click.option(
    "--token-ttl",
    type=click.IntRange(min=1),
    default=DEFAULT_TOKEN_TTL_SECONDS,
    show_default=True,
    help="Bearer token lifetime in seconds.",
)
@click.option(
    "--max-skew",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_SKEW_SECONDS,
    show_default=True,
    help="Accepted clock skew of notice envelopes, in seconds.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate chain: serve HTTPS (with --tls-key).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM private key of the --tls-cert certificate.",
)
def gateway(
    *,
    agency: str,
    feed_file: Path,
    host: str,
    port: int,
    state_dir: Path | None,
    client_id: str | None,
    client_secret: str | None,
    page_size: int,
    fail_rate: float,
    fault_seed: int | None,
    fault_delay: float,
    fault_retry_after: int,
    token_ttl: int,
    max_skew: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    key_dir: Path | None,
) -> None:
    """Run an agency gateway: sealed feed pages, a notices inbox, OAuth2 tokens."""
    if not client_id or not client_secret:
        raise UsageError(
            f"the gateway needs --client-id and --client-secret (or {CLIENT_ID_ENV} and "
            f"{CLIENT_SECRET_ENV})."
        )
    party = Party(agency)
    tls = _tls(tls_cert, tls_key)
    # The keys and the feed are read before the notice store is made, so a gateway
    # refused for either leaves no store behind.
    keyring = _keyring(resolve_key_dir(key_dir), party)
    feed = FeedFile(feed_file)
    faults = FaultInjector(
        fail_rate, fault_seed, delay_seconds=fault_delay, retry_after_seconds=fault_retry_after
    )
    with closing(NoticeStore(output_folder(state_dir or DEFAULT_STATE_DIR / party.value))) as store:
        config = GatewayConfig(
            agency=party,
            keyring=keyring,
            feed=feed,
            store=store,
            tokens=TokenIssuer(client_id, client_secret, ttl_seconds=token_ttl),
            page_size=page_size,
            max_skew=timedelta(seconds=max_skew),
        )
        server = _listening(Gateway(config), host, port, faults, tls)
        scheme = "https" if tls is not None else "http"
        stop = _stop_on_signals()
        click.echo(f"listening on {scheme}://{host}:{server.port}")
        serve_until(server, stop)
    click.echo(f"{party} gateway requests: {server.requests.summary()}.", err=True)
    injected = " ".join(f"{fault}={count}" for fault, count in faults.counts.items())
    click.echo(f"{party} gateway stopped; injected faults: {injected}.", err=True)


def _listening(
    gateway: Gateway, host: str, port: int, faults: FaultInjector, tls: ssl.SSLContext | None
) -> GatewayServer:
    """The gateway's server bound to its port, or a usage error saying why it cannot."""
    try:
        return build_server(gateway, host=host, port=port, faults=faults, tls=tls)
    except OSError as error:
        raise UsageError(
            f"The gateway cannot listen on {host} port {port}: "
            f"{error.strerror or type(error).__name__}."
        ) from error
