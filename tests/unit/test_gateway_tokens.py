"""The gateway's OAuth2 client credentials: who gets a token, how long it lives, how it is read."""

from __future__ import annotations

import base64

import pytest

from sync.gateway.oauth import (
    TokenIssuer,
    basic_authorization,
    bearer_token,
    client_credentials,
)

CLIENT_ID = "synthetic-hub"
SECRET = "synthetic-secret"
TTL = 300


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _raw_basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode("utf-8")).decode("ascii")


@pytest.mark.parametrize(("client_id", "secret"), [("", SECRET), (CLIENT_ID, "")])
def test_an_issuer_needs_a_client_id_and_a_secret(client_id: str, secret: str) -> None:
    with pytest.raises(ValueError, match="client id and a client secret"):
        TokenIssuer(client_id, secret)


def test_a_token_lives_its_ttl_and_not_a_moment_longer() -> None:
    clock = Clock()
    issuer = TokenIssuer(CLIENT_ID, SECRET, ttl_seconds=TTL, clock=clock)
    issued = issuer.issue(CLIENT_ID, SECRET)
    assert issued is not None
    assert issued.expires_in == TTL
    clock.now += TTL - 0.001
    assert issuer.is_valid(issued.access_token)
    clock.now += 0.001
    assert not issuer.is_valid(issued.access_token)


def test_tokens_stay_valid_while_others_are_issued_and_expire() -> None:
    clock = Clock()
    issuer = TokenIssuer(CLIENT_ID, SECRET, ttl_seconds=TTL, clock=clock)
    first = issuer.issue(CLIENT_ID, SECRET)
    clock.now += TTL / 2
    second = issuer.issue(CLIENT_ID, SECRET)
    clock.now += TTL / 2
    third = issuer.issue(CLIENT_ID, SECRET)
    assert first is not None
    assert second is not None
    assert third is not None
    assert not issuer.is_valid(first.access_token)
    assert issuer.is_valid(second.access_token)
    assert issuer.is_valid(third.access_token)
    assert len({first.access_token, second.access_token, third.access_token}) == 3


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(CLIENT_ID, "wrong"), ("someone-else", SECRET), ("someone-else", "wrong"), ("", "")],
)
def test_only_the_configured_client_gets_a_token(client_id: str, secret: str) -> None:
    issuer = TokenIssuer(CLIENT_ID, SECRET)
    assert issuer.issue(client_id, secret) is None


@pytest.mark.parametrize("token", [None, "", "forged", "token-of-another-gateway"])
def test_unknown_tokens_are_not_valid(token: str | None) -> None:
    issuer = TokenIssuer(CLIENT_ID, SECRET)
    issuer.issue(CLIENT_ID, SECRET)
    assert not issuer.is_valid(token)


def test_credentials_from_the_form_need_both_parts() -> None:
    assert client_credentials({"client_id": "a", "client_secret": "b"}, None) == ("a", "b")
    assert client_credentials({"client_id": "a"}, None) is None
    assert client_credentials({"client_secret": "b"}, None) is None
    assert client_credentials({}, None) is None


def test_basic_credentials_win_over_the_form() -> None:
    form = {"client_id": "form-id", "client_secret": "form-secret"}
    header = basic_authorization("basic-id", "basic-secret")
    assert client_credentials(form, header) == ("basic-id", "basic-secret")
    assert client_credentials(form, header.replace("Basic", "bASIC", 1)) == (
        "basic-id",
        "basic-secret",
    )


def test_a_raw_colon_after_the_first_belongs_to_the_secret() -> None:
    assert client_credentials({}, _raw_basic("hub:pass:word")) == ("hub", "pass:word")


@pytest.mark.parametrize(
    "header",
    [
        "Basic not*base64",
        _raw_basic("no-colon-here"),
        "Basic " + base64.b64encode(b"\xff:x").decode(),
    ],
    ids=["not-base64", "no-colon", "not-utf8"],
)
def test_unreadable_basic_credentials_are_none(header: str) -> None:
    assert client_credentials({"client_id": "a", "client_secret": "b"}, header) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("Bearer ", None),
        ("Basic abc", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_the_bearer_token_of_an_authorization_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
