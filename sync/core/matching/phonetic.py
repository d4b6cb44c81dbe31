"""A compact American Soundex, used only to build blocking keys.

rapidfuzz has no phonetic encoder, so this small one gives surnames and
forenames that sound alike (SMITH, SMYTH) the same four-character code.
"""

from __future__ import annotations

SOUNDEX_LENGTH = 4
_CODE_GROUPS = {"BFPV": "1", "CGJKQSXZ": "2", "DT": "3", "L": "4", "MN": "5", "R": "6"}
_CODES = {letter: digit for letters, digit in _CODE_GROUPS.items() for letter in letters}
_TRANSPARENT = frozenset("HW")


def soundex(name: str) -> str:
    """The Soundex code of a cleaned name's letters ('' when it has none)."""
    letters = [char for char in name if "A" <= char <= "Z"]
    if not letters:
        return ""
    code = [letters[0]]
    previous = _CODES.get(letters[0], "")
    for letter in letters[1:]:
        digit = _CODES.get(letter, "")
        if digit and digit != previous:
            code.append(digit)
            if len(code) == SOUNDEX_LENGTH:
                break
        if letter not in _TRANSPARENT:
            previous = digit
    return "".join(code).ljust(SOUNDEX_LENGTH, "0")
