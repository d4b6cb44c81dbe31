"""Realistic errors applied to one agency's copy of a person's details.

Each function changes a person record (a feed-v1 dict) in place and returns
whether it could apply; the truth keeps the person's real details, so a matcher
can be scored against what the noise did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta

from sync.core.identifiers import NAME_SYSTEM_PREFIXES, PLACEHOLDER_DATES_OF_BIRTH
from sync.synth.options import NoiseKind
from sync.synth.randomness import SynthRandom
from sync.synth.references import JUNK_CRO, mistype
from sync.synth.vocabulary import NICKNAMES

UPPER_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MIN_TYPO_LENGTH = 3
SURNAME_NOISE_SHARE = 0.6
MAX_DOB_SHIFT_DAYS = 5
MAX_MONTH_AS_DAY = 12
DOB_SWAP, DOB_DIGIT, DOB_SHIFT = "day_month_swap", "digit_off", "days_off"
DOB_ERROR_KINDS = (DOB_SWAP, DOB_DIGIT, DOB_SHIFT)
PLACEHOLDER_DOBS = tuple(sorted(PLACEHOLDER_DATES_OF_BIRTH))
# Which identifiers go missing: the PNC twice as often as the CRO or both.
_DROP_CHOICES = (("pnc",), ("pnc",), ("cro",), ("pnc", "cro"))
_DROP_PNC_ONLY = (("pnc",),)
NAME_PREFIXES_WITH_SPACE = ("MC", "MAC", "O", "DE", "VAN", "ST", "LE")


def _one_edit(word: str, rng: SynthRandom) -> str:
    """The word with one substitution, deletion, insertion or transposition."""
    index = rng.randrange(len(word) - 1)
    letter = rng.choice(UPPER_LETTERS)
    if word[index].islower():
        letter = letter.lower()
    candidates = (
        word[:index] + letter + word[index + 1 :],
        word[:index] + word[index + 1 :],
        word[:index] + letter + word[index:],
        word[:index] + word[index + 1] + word[index] + word[index + 2 :],
    )
    return rng.choice([candidate for candidate in candidates if candidate != word])


def add_name_typo(record: dict[str, object], rng: SynthRandom) -> bool:
    """One typing error in the surname or the first forename."""
    surname = str(record["surname"])
    forenames = str(record["forenames"]).split(" ")
    if rng.random() < SURNAME_NOISE_SHARE and len(surname) >= MIN_TYPO_LENGTH:
        record["surname"] = _one_edit(surname, rng)
        return True
    if len(forenames[0]) < MIN_TYPO_LENGTH:
        return False
    forenames[0] = _one_edit(forenames[0], rng)
    record["forenames"] = " ".join(forenames)
    return True


def use_nickname(record: dict[str, object], rng: SynthRandom) -> bool:
    """The first forename replaced by a common short form (William: Bill)."""
    forenames = str(record["forenames"]).split(" ")
    options = NICKNAMES.get(forenames[0])
    if options is None:
        return False
    forenames[0] = rng.choice(options)
    record["forenames"] = " ".join(forenames)
    return True


def swap_names(record: dict[str, object], rng: SynthRandom) -> bool:
    """Surname and forename entered the wrong way round."""
    del rng
    surname = str(record["surname"])
    first = str(record["forenames"]).split(" ")[0]
    record["surname"] = first.upper()
    record["forenames"] = surname.title()
    return True


def vary_name_form(record: dict[str, object], rng: SynthRandom) -> bool:
    """Hyphen, apostrophe, space or letter-case written differently."""
    surname = str(record["surname"])
    for mark in ("'", "-", " "):
        if mark in surname:
            record["surname"] = surname.replace(mark, rng.choice(("", " ", "-")), 1)
            return record["surname"] != surname
    for prefix in NAME_PREFIXES_WITH_SPACE:
        if surname.startswith(prefix) and len(surname) > len(prefix) + MIN_TYPO_LENGTH:
            record["surname"] = f"{prefix} {surname[len(prefix) :]}"
            return True
    if rng.random() < SURNAME_NOISE_SHARE:
        record["surname"] = surname.title()
    else:
        record["forenames"] = str(record["forenames"]).upper()
    return True


def add_system_prefix(record: dict[str, object], rng: SynthRandom) -> bool:
    """A source system's marker glued to the surname (`MIG_ERROR_SMITH`)."""
    record["surname"] = rng.choice(NAME_SYSTEM_PREFIXES) + str(record["surname"])
    return True


def _digit_off(born: date, rng: SynthRandom) -> date | None:
    """The date with one digit of its ISO form changed, if still a real date."""
    text = born.isoformat()
    positions = [index for index, char in enumerate(text) if char.isdigit()]
    index = rng.choice(positions[2:])
    digit = (int(text[index]) + rng.choice((1, 9))) % 10
    try:
        return date.fromisoformat(f"{text[:index]}{digit}{text[index + 1 :]}")
    except ValueError:
        return None


def _wrong_date_of_birth(born: date, rng: SynthRandom) -> date:
    """Day and month swapped, one digit off, or a few days off."""
    kind = rng.choice(DOB_ERROR_KINDS)
    if kind == DOB_SWAP and born.day <= MAX_MONTH_AS_DAY and born.day != born.month:
        return born.replace(month=born.day, day=born.month)
    if kind == DOB_DIGIT and (changed := _digit_off(born, rng)) is not None and changed != born:
        return changed
    shift = rng.randint(1, MAX_DOB_SHIFT_DAYS) * rng.choice((-1, 1))
    return born + timedelta(days=shift)


def corrupt_date_of_birth(record: dict[str, object], rng: SynthRandom) -> bool:
    """A date of birth typed wrongly."""
    born = record.get("date_of_birth")
    if not isinstance(born, str):
        return False
    record["date_of_birth"] = _wrong_date_of_birth(date.fromisoformat(born), rng).isoformat()
    return True


def use_placeholder_date_of_birth(record: dict[str, object], rng: SynthRandom) -> bool:
    """A source system's placeholder instead of the real date of birth."""
    record["date_of_birth"] = rng.choice(PLACEHOLDER_DOBS).isoformat()
    return True


def drop_identifiers(record: dict[str, object], rng: SynthRandom) -> bool:
    """PNC, CRO or both missing from this record."""
    choices = _DROP_CHOICES if record.get("cro") is not None else _DROP_PNC_ONLY
    for name in rng.choice(choices):
        record[name] = None
    return True


def mistype_identifier(record: dict[str, object], rng: SynthRandom) -> bool:
    """PNC or CRO typed with a wrong check letter or a wrong digit."""
    fields = [name for name in ("pnc", "cro") if isinstance(record.get(name), str)]
    if not fields:
        return False
    field = rng.choice(fields)
    record[field] = mistype(str(record[field]), rng)
    return True


def use_junk_cro(record: dict[str, object], rng: SynthRandom) -> bool:
    """The CRO placeholder `000000/00Z` instead of a real number (or none)."""
    del rng
    record["cro"] = JUNK_CRO
    return True


# How each record-level noise kind is applied.
RECORD_NOISE: Mapping[str, Callable[[dict[str, object], SynthRandom], bool]] = {
    NoiseKind.MISSING_IDENTIFIER: drop_identifiers,
    NoiseKind.MISTYPED_IDENTIFIER: mistype_identifier,
    NoiseKind.JUNK_CRO: use_junk_cro,
    NoiseKind.NAME_TYPO: add_name_typo,
    NoiseKind.SWAPPED_NAMES: swap_names,
    NoiseKind.NAME_VARIANT: vary_name_form,
    NoiseKind.SYSTEM_PREFIX: add_system_prefix,
    NoiseKind.DOB_ERROR: corrupt_date_of_birth,
    NoiseKind.PLACEHOLDER_DOB: use_placeholder_date_of_birth,
}
