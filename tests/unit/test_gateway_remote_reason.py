"""A gateway's sentence is passed on bounded: printable ASCII, short, identifiers withheld."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


DIGEST = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "said", [f"Key {KEY_ID}.", f"Key ({KEY_ID}) revoked.", f"Digest {DIGEST}."]
)
def test_key_ids_and_digests_are_kept_whole_even_beside_punctuation(said: str) -> None:
    assert bounded_sentence(said) == said


@pytest.mark.parametrize(
    "word",
    ["123456", "3/4/90", "3-4-90", KEY_ID.upper(), f"{KEY_ID}1990-01-31", f"{DIGEST}0"],
)
def test_a_word_that_only_looks_like_a_key_id_or_holds_a_short_date_is_withheld(
    word: str,
) -> None:
    assert bounded_sentence(f"Refused {word} today.") == f"Refused {WITHHELD} today."


def test_a_word_of_five_digits_is_kept() -> None:
    assert bounded_sentence("Refused after 12345 tries.") == "Refused after 12345 tries."


def test_a_sentence_of_exactly_the_cap_is_kept_whole_and_one_character_more_is_cut() -> None:
    exact = ("a" * (MAX_REASON_CHARS - 1)) + "."
    assert bounded_sentence(exact) == exact
    cut = bounded_sentence("b" + exact)
    assert cut == "b" + "a" * (MAX_REASON_CHARS - 1 - len(TRUNCATED)) + TRUNCATED
    assert len(cut) == MAX_REASON_CHARS


@given(st.text(max_size=400))
def test_no_word_passed_on_holds_six_digits_unless_it_is_a_key_id(text: str) -> None:
    said = bounded_sentence(text)
    if said is None:
        return
    assert len(said) <= MAX_REASON_CHARS
    assert all(char.isascii() and char.isprintable() for char in said)
    words = said.split()
    if said.endswith(TRUNCATED):  # a key id cut short by the cap is no longer whole
        words = words[:-1]
    for word in words:
        core = word.strip(".,;:!?()[]{}<>'\"`")
        if len(core) not in (32, 64) or not all(c in "0123456789abcdef" for c in core):
            assert sum(char.isdigit() for char in core) < 6


def test_the_cap_is_the_two_hundred_characters_operations_md_states() -> None:
    cut = bounded_sentence("c" * 201)
    assert cut is not None
    assert len(cut) == 200
