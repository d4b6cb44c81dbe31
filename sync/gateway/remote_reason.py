"""A gateway's own sentence for a refusal, made safe to pass on in errors and summaries.

A gateway's error body says why in `reason` (about keys and envelopes: "Key …
is not in the key ring."). The hub passes that sentence on (a run's
`delivery_errors`, a deliver task's result, the client's errors), but it is
remote text, so only a bounded form of it: printable ASCII, whitespace
collapsed, at most `MAX_REASON_CHARS` characters, and any word shaped like a
date, a PNC or CRO number or another long number replaced by `WITHHELD`, so
that a gateway quoting a record cannot put personal data into the hub's logs.
Key ids and digests (32 or 64 lower-case hex digits) are kept whole.
"""

from __future__ import annotations

import json
import re

MAX_REASON_CHARS = 200
WITHHELD = "[withheld]"
TRUNCATED = "..."
MIN_DIGITS_WITHHELD = 6  # a word with this many digits or more may be an identifier
_HEX_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{64}")  # matched whole (`fullmatch`)
_JOINED_DIGITS = re.compile(r"\d[-/]\d")  # 1990-01-31, 31/01/1990, 2001/0012345X, 123456/01A
_WORD_EDGES = ".,;:!?()[]{}<>'\"`"


def remote_reason(body: bytes) -> str | None:
    """The bounded `reason` of a gateway's JSON error body (`bounded_sentence`), or None."""
    try:
        reason = json.loads(body).get("reason")
    except (ValueError, RecursionError, AttributeError):
        return None
    return bounded_sentence(reason) if isinstance(reason, str) else None


def bounded_sentence(text: str) -> str | None:
    """`text` as printable ASCII words, identifiers withheld, capped in length; None if empty."""
    printable = "".join(_printable(char) for char in text)
    words = [WITHHELD if _may_identify(word) else word for word in printable.split()]
    sentence = " ".join(words)
    if len(sentence) > MAX_REASON_CHARS:
        sentence = sentence[: MAX_REASON_CHARS - len(TRUNCATED)].rstrip() + TRUNCATED
    return sentence or None


def _printable(char: str) -> str:
    """The character if printable ASCII; a space for other whitespace; else nothing."""
    if char.isascii() and char.isprintable():
        return char
    return " " if char.isspace() else ""


def _may_identify(word: str) -> bool:
    """Whether a word looks like a date, a PNC or CRO number or a long number (not a key id)."""
    core = word.strip(_WORD_EDGES)
    if _HEX_ID.fullmatch(core):
        return False
    digits = sum(char.isdigit() for char in core)
    return digits >= MIN_DIGITS_WITHHELD or _JOINED_DIGITS.search(core) is not None
