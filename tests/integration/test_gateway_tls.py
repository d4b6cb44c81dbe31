"""The gateway over real TLS on loopback, and each way the hub's checks of it can fail.

Real `arms-sync gateway` processes serving certificates a test authority made
(current, expired, issued for another address), and the hub's `GatewayClient`
given the authority's certificate, another authority's, none, or a file that
holds no certificate. Each failure is one sentence saying what to mend.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.crypto import KeyRing, Party
from sync.delivery import failure_words
from sync.errors import GatewayTLSError
from tests.integration.certificates import PEM, Authority, certificate_authority
from tests.integration.gateway_process import (
    RunningGateway,
    make_client,
    make_keys,
    notice_batch,
    start_gateway,
    write_feed,
)

pytestmark = pytest.mark.integration

AGENCY = Party.POLICE
FEED_RECORDS = 5
PAGE_LIMIT = 3
LOOPBACK = "127.0.0.1"
CURRENT = (timedelta(minutes=-5), timedelta(days=1))
EXPIRED = (timedelta(days=-3), timedelta(days=-1))
StartGateway = Callable[..., str]  # (address, valid) -> the started gateway's URL


@dataclass(frozen=True)
class Setup:
    """Keys, a feed, a trusted and an unknown authority, shared by this module's tests."""

    root: Path
    keys: Path
    hub: KeyRing
    feed: Path
    trusted: Authority
    unknown: Authority


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    root = tmp_path_factory.mktemp("tls")
    keys = root / "keys"
    keyrings = make_keys(keys)
    feed = root / "police.jsonl"
    write_feed(feed, AGENCY.value, FEED_RECORDS)
    return Setup(
        root,
        keys,
        keyrings[Party.HUB],
        feed,
        certificate_authority("arms-sync test CA", root / "ca.crt"),
        certificate_authority("some other CA", root / "other-ca.crt"),
    )


def _server_certificate(
    authority: Authority, address: str, valid: tuple[timedelta, timedelta]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + valid[0])
        .not_valid_after(now + valid[1])
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
        .sign(authority.key, hashes.SHA256())
    )
    return key, certificate


@pytest.fixture
def tls_gateway(setup: Setup, tmp_path: Path) -> Iterator[StartGateway]:
    """Start gateways serving a certificate of the trusted authority for `address`, valid
    over `valid`; each is stopped (cleanly) at the test's end."""
    started: list[RunningGateway] = []

    def start(address: str = LOOPBACK, valid: tuple[timedelta, timedelta] = CURRENT) -> str:
        key, certificate = _server_certificate(setup.trusted, address, valid)
        folder = tmp_path / f"gateway-{len(started)}"
        folder.mkdir()
        cert_file = folder / "server.crt"
        cert_file.write_bytes(certificate.public_bytes(PEM))
        key_file = folder / "server.key.pem"
        key_file.write_bytes(
            key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        gateway = start_gateway(
            agency=AGENCY,
            feed=setup.feed,
            keys=setup.keys,
            state=folder / "state",
            cwd=folder,
            extra=("--tls-cert", str(cert_file), "--tls-key", str(key_file)),
        )
        started.append(gateway)
        return gateway.url

    yield start
    assert [gateway.stop() for gateway in started] == [0] * len(started)


def _refusal(setup: Setup, url: str, ca_bundle: Path | None) -> str:
    """The sentence the hub's client refuses a feed page with."""
    with (
        make_client(url, setup.hub, AGENCY, ca_bundle=ca_bundle) as client,
        pytest.raises(GatewayTLSError) as refused,
    ):
        client.fetch_page(None, PAGE_LIMIT)
    return str(refused.value)


def test_tls_with_the_right_authority_works(setup: Setup, tls_gateway: StartGateway) -> None:
    url = tls_gateway()
    assert url.startswith("https://")
    with make_client(url, setup.hub, AGENCY, ca_bundle=setup.trusted.file) as client:
        page = client.fetch_page(None, PAGE_LIMIT)
        receipt = client.deliver(notice_batch(setup.hub, AGENCY, 2))
    assert page.envelope is not None
    assert receipt.msg_id


def test_a_certificate_from_an_authority_the_hub_does_not_trust_names_the_bundle_setting(
    setup: Setup, tls_gateway: StartGateway
) -> None:
    url = tls_gateway()
    for bundle in (setup.unknown.file, None):
        assert _refusal(setup, url, bundle) == (
            "the police gateway's TLS certificate is not issued by an authority this hub "
            "trusts: set ARMS_SYNC_GATEWAY_CA_BUNDLE to the issuing authority's certificate "
            "(PEM)."
        )


def test_an_expired_certificate_is_told_as_expired(setup: Setup, tls_gateway: StartGateway) -> None:
    url = tls_gateway(valid=EXPIRED)
    assert _refusal(setup, url, setup.trusted.file) == (
        "the police gateway's TLS certificate has expired: the gateway must be given a current one."
    )


def test_a_certificate_for_another_address_is_told_as_not_for_this_host(
    setup: Setup, tls_gateway: StartGateway
) -> None:
    url = tls_gateway(address="127.0.0.2")
    assert _refusal(setup, url, setup.trusted.file).startswith(
        "the police gateway's TLS certificate is not issued for the host in its URL"
    )


def test_a_bundle_without_a_certificate_is_the_hubs_fault_not_the_gateways(
    setup: Setup, tls_gateway: StartGateway, tmp_path: Path
) -> None:
    url = tls_gateway()
    not_pem = tmp_path / "bundle.txt"
    not_pem.write_text("this file holds no certificate\n")
    assert _refusal(setup, url, not_pem) == (
        "the CA bundle this hub was given for the police gateway "
        "(ARMS_SYNC_GATEWAY_CA_BUNDLE, else REQUESTS_CA_BUNDLE) holds no certificate in PEM form."
    )


def test_a_gateway_answering_plain_http_to_https_is_told_so(setup: Setup) -> None:
    plain = start_gateway(
        agency=AGENCY, feed=setup.feed, keys=setup.keys, state=setup.root / "plain", cwd=setup.root
    )
    try:
        https_url = plain.url.replace("http://", "https://", 1)
        assert _refusal(setup, https_url, setup.trusted.file) == (
            "the police gateway did not answer in TLS (UNEXPECTED_EOF_WHILE_READING): if it "
            "serves plain HTTP, its URL must begin with http://, not https://."
        )
    finally:
        assert plain.stop() == 0


def test_a_batch_kept_after_a_tls_failure_is_told_as_one_in_status() -> None:
    assert failure_words(GatewayTLSError.__name__) == (
        "the TLS connection to its gateway failed this hub's certificate checks"
    )
