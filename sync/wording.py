"""Counted nouns for the sentences arms-sync prints: "1 batch", "2 batches".

One place decides the singular and plural, so every summary, table footer and
error agrees on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches

SPELT_ALIKE = 0.8  # how alike (difflib's ratio) a misspelt name and the one meant are


def noun(number: int, thing: str) -> str:
    """`thing` as `number` of it takes it: 'record' for 1, 'records' otherwise.

    A noun ending in "ch", "sh", "s" or "x" takes "es" ("batches"); a phrase
    ("rejected record") takes the plural on its last word.
    """
    if number == 1:
        return thing
    suffix = "es" if thing.endswith(("ch", "sh", "s", "x")) else "s"
    return thing + suffix


def counted(number: int, thing: str) -> str:
    """'1 batch', '2 batches', '0 notices': the number and its noun."""
    return f"{number} {noun(number, thing)}"


def did_you_mean(name: str, known: Iterable[str], prefix: str = "") -> str:
    """` (did you mean window_days?)` when one of `known` is spelt much like `name`, else "".

    `name` and `known` are compared without `prefix` (a long prefix they share
    would make any two of them look alike); the suggestion is written with it.
    """
    close = get_close_matches(name.removeprefix(prefix), sorted(known), n=1, cutoff=SPELT_ALIKE)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""
