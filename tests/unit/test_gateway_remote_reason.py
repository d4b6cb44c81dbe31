"""A gateway's sentence is passed on bounded: printable ASCII, short, identifiers withheld."""

from __future__ import annotations

import pytest

from sync.gateway.remote_reason import (
    MAX_REASON_CHARS,
    TRUNCATED,
    WITHHELD,
    bounded_sentence,
    remote_reason,
)

KEY_ID = "0123456789abcdef0123456789abcdef"


def test_a_sentence_about_a_key_is_passed_on_as_it_is() -> None:
    said = f"Key {KEY_ID} is not in the key ring."
    assert bounded_sentence(said) == said


@pytest.mark.parametrize(
    "word",
    ["1990-01-31", "31/01/1990", "2001/0012345X", "01/123456A", "123456/01A", "(12345678)"],
)
def test_words_shaped_like_a_date_or_an_identifier_are_withheld(word: str) -> None:
    assert bounded_sentence(f"Refused {word} today.") == f"Refused {WITHHELD} today."


def test_control_and_non_ascii_characters_are_dropped_and_whitespace_collapsed() -> None:
    assert bounded_sentence("A\tkey\n\n\x1b\x07is \u00e9revoked.\u200b") == "A key is revoked."


def test_a_long_sentence_is_cut_to_the_cap() -> None:
    said = bounded_sentence("word " * 100)
    assert said is not None
    assert len(said) <= MAX_REASON_CHARS
    assert said.endswith(TRUNCATED)


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1]", b'{"reason": 7}', b'{"reason": " \\u0007 "}', b'{"error": "x"}'],
)
def test_a_body_without_a_usable_reason_gives_none(body: bytes) -> None:
    assert remote_reason(body) is None


def test_the_reason_of_an_error_body() -> None:
    assert remote_reason(b'{"error": "e", "reason": "Stale."}') == "Stale."
