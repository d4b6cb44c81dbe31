"""Crowds of different men for the matcher's tests, among whom a rare name weighs as rare.

Term frequencies come from the population matched, so a pair alone, or among a
few, weighs nothing like the same pair in a realistic population: a test that
a pair is reviewed rather than linked places it in a crowd first.
"""

from __future__ import annotations

from datetime import date

from sync.core.matching import ReviewPair, match_population
from sync.core.records import Agency, Gender, Person

SURNAMES = ("Smith", "Jones", "Taylor", "Brown")
FORENAMES = ("John", "David", "Paul", "Mark", "James")


def crowd_of_men(size: int = 1000) -> list[Person]:
    """`size` different men (police records `C0`, `C1`, …) with common names."""
    return [
        Person(
            Agency.POLICE,
            f"C{n}",
            SURNAMES[n % len(SURNAMES)] + "ford" * (n % 7),
            FORENAMES[n % len(FORENAMES)],
            Gender.MALE,
            "LANC",
            date(1950 + n % 40, 1 + n % 12, 1 + n % 28),
        )
        for n in range(size)
    ]


def pair_among_crowd(
    first: Person, second: Person, size: int = 1000
) -> tuple[bool, list[ReviewPair]]:
    """Whether the pair links among `crowd_of_men(size)`, and its review items there."""
    result = match_population([*crowd_of_men(size), first, second])
    refs = {first.ref, second.ref}
    linked = any({link.a, link.b} == refs for link in result.links)
    return linked, [review for review in result.reviews if {review.a, review.b} == refs]
