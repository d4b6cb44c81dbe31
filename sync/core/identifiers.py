"""Identifier validation and canonical forms (PNC, CRO, CRN, NOMS, police refs).

Pure functions over strings, following `spec/identifiers.md` to the letter. A
PNC or CRO parser returns the canonical form, or raises `InvalidIdentifier`
whose message names the rule broken but never the value itself.
"""

from __future__ import annotations

import re
import string
from datetime import date

CHECK_TABLE = "ZABCDEFGHJKLMNPQRTUVWXY"
PNC_SERIAL_WIDTH = 7
CRO_SERIAL_WIDTH = 6
NAME_SYSTEM_PREFIXES = ("MIG_ERROR_", "NO_SHOW_", "DUPLICATE_")
_PREFIX_JOINER = r"[_\- ]"


def _prefixes_pattern(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    """The prefixes in any case, their words joined and ended by `_`, `-` or spaces, one
    after another: systems and the people who key names write them all these ways."""
    words = (prefix.strip("_").split("_") for prefix in prefixes)
    either = "|".join(f"{_PREFIX_JOINER}*".join(map(re.escape, parts)) for parts in words)
    return re.compile(f"(?:(?:{either}){_PREFIX_JOINER}+)+", re.IGNORECASE | re.ASCII)


_SYSTEM_PREFIXES_RE = _prefixes_pattern(NAME_SYSTEM_PREFIXES)
PLACEHOLDER_DATES_OF_BIRTH = frozenset({date(1900, 1, 1), date(1970, 1, 1)})

# Matched whole (`fullmatch`) and ASCII only: `\d` alone also takes other scripts'
# digits, which `int()` reads, so `٧٩/١٦٣٠٠١B` would pass as a PNC.
_PNC_RE = re.compile(r"(\d{2}|\d{4})/(\d{1,7})([A-Z])", re.ASCII)
_PNC_WITHOUT_SLASH_RE = re.compile(r"(\d{3,11})([A-Z])", re.ASCII)
PNC_YEAR_WIDTHS = (2, 4)
_CRO_STANDARD_RE = re.compile(r"(\d{1,6})/(\d{2})([A-Z])", re.ASCII)
_CRO_SHORT_RE = re.compile(r"SF(\d{2})/(\d{1,6})([A-Z])", re.ASCII)
_CRN_RE = re.compile(r"[A-Z]\d{6}", re.ASCII)
_NOMS_RE = re.compile(r"[A-Z]\d{4}[A-Z]{2}", re.ASCII)
_POLICE_REF_RE = re.compile(r"[A-Za-z0-9-]{1,32}", re.ASCII)
_ALL_ZEROS_RE = re.compile(r"[0/SF]*", re.ASCII)
# A canonical PNC or CRO (either layout) whose serial number is zero: no number is issued so.
_ZERO_SERIAL_RE = re.compile(r"\d{4}/0{7}[A-Z]|0{6}/\d{2}[A-Z]|SF\d{2}/0{1,6}[A-Z]", re.ASCII)
# Upper-casing touches ASCII letters alone: `str.upper` makes `ı` an `I` and `ſ`
# an `S`, which would turn a CRN no agency wrote into one of another person's.
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def trimmed_upper(raw: str) -> str:
    """The text trimmed, with its ASCII letters in capitals (other letters untouched)."""
    return raw.strip().translate(_ASCII_UPPER)


class InvalidIdentifier(ValueError):
    """An identifier fails its format or check character (message has no value)."""


def check_letter(number: int) -> str:
    """The check letter for a number, from the 23-letter table."""
    return CHECK_TABLE[number % len(CHECK_TABLE)]


def expand_two_digit_year(yy: int, today: date) -> int:
    """20YY when YY is at most this year's last two digits, else 19YY."""
    return 2000 + yy if yy <= today.year % 100 else 1900 + yy


def canonical_pnc(raw: str, today: date) -> str:
    """Canonical `YYYY/NNNNNNNC` form of a PNC number, or `InvalidIdentifier`.

    Without its slash a number may be read with a two- or a four-digit year
    (`200273319Z` is `20/0273319Z` or `2002/73319Z`). Each reading that fits is
    tried; the one whose check letter matches is the number. When both match
    and differ, which one the writer meant is unknown, and the number is refused.
    """
    text = trimmed_upper(raw)
    readings = _pnc_readings(text)
    if not readings:
        raise InvalidIdentifier("pnc: not in the form YY/NNNNNNNC or YYYY/NNNNNNNC")
    valid = {
        canonical
        for year_text, serial_text, letter in readings
        if (canonical := _checked_pnc(year_text, serial_text, letter, today)) is not None
    }
    if not valid:
        raise InvalidIdentifier("pnc: check letter does not match")
    if len(valid) > 1:
        raise InvalidIdentifier("pnc: without its slash it reads as two different valid numbers")
    return valid.pop()


def _pnc_readings(text: str) -> list[tuple[str, str, str]]:
    """(year, serial, check letter) for every way the text can be read as a PNC number."""
    if (slashed := _PNC_RE.fullmatch(text)) is not None:
        year_text, serial_text, letter = slashed.groups()
        return [(year_text, serial_text, letter)]
    if (bare := _PNC_WITHOUT_SLASH_RE.fullmatch(text)) is None:
        return []
    digits, letter = bare.groups()
    return [
        (digits[:width], digits[width:], letter)
        for width in PNC_YEAR_WIDTHS
        if 1 <= len(digits) - width <= PNC_SERIAL_WIDTH
    ]


def _checked_pnc(year_text: str, serial_text: str, letter: str, today: date) -> str | None:
    """The canonical form of one reading, or `None` when its check letter does not match."""
    year = expand_two_digit_year(int(year_text), today) if len(year_text) == 2 else int(year_text)
    serial = serial_text.zfill(PNC_SERIAL_WIDTH)
    if check_letter(int(f"{year % 100:02d}{serial}")) != letter:
        return None
    return f"{year:04d}/{serial}{letter}"


def canonical_cro(raw: str) -> str:
    """Canonical CRO number (`NNNNNN/YYC` or `SFYY/N…NC`), or `InvalidIdentifier`."""
    text = trimmed_upper(raw)
    if (short := _CRO_SHORT_RE.fullmatch(text)) is not None:
        yy, serial, letter = short.groups()
        if check_letter(int(yy + serial)) != letter:
            raise InvalidIdentifier("cro: check letter does not match")
        return f"SF{yy}/{serial}{letter}"
    if (standard := _CRO_STANDARD_RE.fullmatch(text)) is not None:
        serial, yy, letter = standard.groups()
        padded = serial.zfill(CRO_SERIAL_WIDTH)
        if check_letter(int(yy + padded)) != letter:
            raise InvalidIdentifier("cro: check letter does not match")
        return f"{padded}/{yy}{letter}"
    raise InvalidIdentifier("cro: not in the form NNNNNN/YYC or SFYY/NNNNNNC")


def is_junk_identifier(text: str) -> bool:
    """True for placeholders: made only of zeros and the check letter, or a serial of zeros.

    Check the identifier as written as well as its canonical form: a PNC
    written `00/0000000Z` is all zeros, and so is the serial of its canonical
    `2000/0000000Z`; the serial of `95/0X` is only zeros once made canonical
    (`1995/0000000X`).
    """
    written = trimmed_upper(text)
    return (
        _ALL_ZEROS_RE.fullmatch(written[:-1]) is not None
        or _ZERO_SERIAL_RE.fullmatch(written) is not None
    )


def canonical_crn(raw: str) -> str:
    """Canonical CRN (one letter, six digits), or `InvalidIdentifier`."""
    text = trimmed_upper(raw)
    if _CRN_RE.fullmatch(text) is None:
        raise InvalidIdentifier("crn: must be one letter and six digits")
    return text


def canonical_noms(raw: str) -> str:
    """A NOMS number as given (trimmed), or `InvalidIdentifier`.

    Not upper-cased: `identifiers.md` grants that to the CRN alone, so a NOMS
    number in lower case is invalid and rejects its record.
    """
    text = raw.strip()
    if _NOMS_RE.fullmatch(text) is None:
        raise InvalidIdentifier(
            "noms: must be a capital letter, four digits and two capital letters"
        )
    return text


def canonical_police_ref(raw: str) -> str:
    """A police person reference as given (trimmed), or `InvalidIdentifier`."""
    text = raw.strip()
    if _POLICE_REF_RE.fullmatch(text) is None:
        raise InvalidIdentifier("police reference: must be 1-32 letters, digits or hyphens")
    return text


def has_system_prefix(name: str) -> bool:
    """Whether a name starts with a source system's prefix such as `MIG_ERROR_`."""
    return _SYSTEM_PREFIXES_RE.match(name) is not None


def strip_system_prefix(name: str) -> str:
    """A name without the source systems' prefixes it starts with (`MIG_ERROR_`,
    `DUPLICATE_MIG_ERROR_`, `MIG-ERROR-`, `mig error `)."""
    return _SYSTEM_PREFIXES_RE.sub("", name, count=1)


def is_placeholder_date_of_birth(value: date | None) -> bool:
    """True for dates of birth that source systems use as placeholders."""
    return value in PLACEHOLDER_DATES_OF_BIRTH
