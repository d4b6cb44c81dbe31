"""Identifiers for synthetic people: PNC, CRO, CRN, NOMS and police references.

Unique numbers come from a fixed bijection of a counter (a multiplier coprime to
the modulus), so distinct people never share a PNC, CRO, CRN or police reference
while the numbers still look scattered. Mistyping keeps the format and breaks
the check letter.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.core.identifiers import CHECK_TABLE, check_letter
from sync.synth.randomness import SynthRandom

PNC_SERIAL_MODULUS = 10_000_000
CRO_SERIAL_MODULUS = 1_000_000
CRN_MODULUS = 1_000_000
POLICE_REF_MODULUS = 10_000_000
NOMS_DIGITS_MODULUS = 10_000
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CRN_LETTERS = "ABCDEFGHJKLMNPRSTVWXYZ"
JUNK_CRO = "000000/00Z"
CENTURY = 100
LETTER_MISTYPE_SHARE = 0.5
FOUR_DIGIT_YEAR_END = 4

_SCATTER_OFFSET = 5_820_947
_PNC_MULTIPLIER = 7_654_321
_CRO_MULTIPLIER = 654_323
_CRN_MULTIPLIER = 387_419
_POLICE_MULTIPLIER = 2_718_283
_NOMS_MULTIPLIER = 48_271


def scatter(counter: int, modulus: int, multiplier: int) -> int:
    """A bijection of `[0, modulus)`: the counter scattered, never repeating."""
    return (counter * multiplier + _SCATTER_OFFSET) % modulus


@dataclass(frozen=True, slots=True)
class Pnc:
    """A true PNC number: year of issue and serial."""

    year: int
    serial: int

    @property
    def letter(self) -> str:
        """The correct check letter."""
        return check_letter(int(f"{self.year % CENTURY:02d}{self.serial:07d}"))

    def canonical(self) -> str:
        """The canonical `YYYY/NNNNNNNC` form."""
        return f"{self.year:04d}/{self.serial:07d}{self.letter}"

    def short(self) -> str:
        """The short `YY/N…NC` form some systems write."""
        return f"{self.year % CENTURY:02d}/{self.serial}{self.letter}"


@dataclass(frozen=True, slots=True)
class Cro:
    """A true CRO number: standard (`NNNNNN/YYC`) or short (`SFYY/N…NC`) form."""

    year: int
    serial: int
    short_form: bool

    @property
    def letter(self) -> str:
        """The correct check letter."""
        yy = f"{self.year % CENTURY:02d}"
        if self.short_form:
            return check_letter(int(f"{yy}{self.serial}"))
        return check_letter(int(f"{yy}{self.serial:06d}"))

    def written(self, padded: bool) -> str:
        """The number as a system writes it (standard serial padded or not)."""
        yy = f"{self.year % CENTURY:02d}"
        if self.short_form:
            return f"SF{yy}/{self.serial}{self.letter}"
        serial = f"{self.serial:06d}" if padded else str(self.serial)
        return f"{serial}/{yy}{self.letter}"


def make_pnc(counter: int, year: int) -> Pnc:
    """A PNC number unique to this counter."""
    return Pnc(year, 1 + scatter(counter, PNC_SERIAL_MODULUS - 1, _PNC_MULTIPLIER))


def make_cro(counter: int, year: int, short_form: bool) -> Cro:
    """A CRO number unique to this counter (below a million people)."""
    return Cro(year, 1 + scatter(counter, CRO_SERIAL_MODULUS - 1, _CRO_MULTIPLIER), short_form)


def make_crn(counter: int) -> str:
    """A CRN unique to this counter: a letter and six digits."""
    block, rest = divmod(counter, CRN_MODULUS)
    letter = CRN_LETTERS[block % len(CRN_LETTERS)]
    return f"{letter}{scatter(rest, CRN_MODULUS, _CRN_MULTIPLIER):06d}"


def make_police_ref(counter: int, force: str) -> str:
    """A police person reference unique to this counter, prefixed by the force."""
    return f"{force}-{scatter(counter, POLICE_REF_MODULUS, _POLICE_MULTIPLIER):07d}"


def make_noms(counter: int) -> str:
    """A NOMS number (a letter, four digits, two letters) unique to this counter."""
    rest, digits = divmod(counter, NOMS_DIGITS_MODULUS)
    rest, second = divmod(rest, len(LETTERS))
    rest, first_of_pair = divmod(rest, len(LETTERS))
    scattered = scatter(digits, NOMS_DIGITS_MODULUS, _NOMS_MULTIPLIER)
    prefix = LETTERS[rest % len(LETTERS)]
    return f"{prefix}{scattered:04d}{LETTERS[first_of_pair]}{LETTERS[second]}"


def mistype(written: str, rng: SynthRandom) -> str:
    """The identifier with a wrong check letter, or one digit changed (both fail)."""
    if rng.random() < LETTER_MISTYPE_SHARE:
        wrong = [letter for letter in CHECK_TABLE if letter != written[-1]]
        return written[:-1] + rng.choice(wrong)
    # The century of a four-digit PNC year is not in the check: leave it alone.
    first = 2 if written.find("/") == FOUR_DIGIT_YEAR_END else 0
    positions = [index for index, char in enumerate(written[:-1]) if char.isdigit()]
    positions = [index for index in positions if index >= first]
    index = rng.choice(positions)
    digit = (int(written[index]) + rng.randint(1, 9)) % 10
    return f"{written[:index]}{digit}{written[index + 1 :]}"
