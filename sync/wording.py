"""Counted nouns for the sentences arms-sync prints: "1 batch", "2 batches".

One place decides the singular and plural, so every summary, table footer and
error agrees on them.
"""

from __future__ import annotations


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
