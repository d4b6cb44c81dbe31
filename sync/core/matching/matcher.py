"""The person matcher: links and review pairs over a population, or for one record.

`match_population` compares every blocked pair of a population once;
`MatchIndex` keeps the blocks of an indexed population so one new record is
matched by dictionary look-ups, never a scan. Both give the same answer for the
same records whatever their order: a pair is compared under the same blocks,
scored with the same term frequencies (the new record counted in), and
decided by the same rules (`decisions.py`).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sync.core.matching.blocking import (
    MAX_BLOCK_SIZE,
    NEIGHBOURHOOD,
    SortKey,
    blocking_keys,
    candidate_pairs,
    sort_key,
)
from sync.core.matching.cleaning import CleanPerson, clean_person
from sync.core.matching.decisions import REVIEW_THRESHOLD, decide, needs_verdict
from sync.core.matching.frequencies import CountsWithProbe, TermCounts
from sync.core.matching.scoring import PairScore, PairScorer, ScoreFields
from sync.core.records import Agency, Person, RecordRef


@dataclass(frozen=True, slots=True, order=True)
class Link:
    """Two records linked as one person (`a < b`), what linked them, and the weight."""

    a: RecordRef
    b: RecordRef
    matched_by: str
    weight: float | None


@dataclass(frozen=True, slots=True, order=True)
class ReviewPair:
    """Two records a person should look at (`a < b`); the reason names evidence only."""

    a: RecordRef
    b: RecordRef
    weight: float
    reason: str


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Links and review pairs, each sorted by their two references."""

    links: tuple[Link, ...] = ()
    reviews: tuple[ReviewPair, ...] = ()


PROBE = 0


class DuplicateRecordError(ValueError):
    """The same record reference was given twice (the message carries no values)."""


def _unique_clean(persons: Iterable[Person]) -> dict[RecordRef, CleanPerson]:
    """Cleaned records by reference, refusing a reference given twice."""
    cleaned: dict[RecordRef, CleanPerson] = {}
    for person in persons:
        if person.ref in cleaned:
            raise DuplicateRecordError("matching: a person record reference appears twice")
        cleaned[person.ref] = clean_person(person)
    return cleaned


def _outcome(
    first: CleanPerson, second: CleanPerson, fields: ScoreFields
) -> Link | ReviewPair | None:
    """Decide one scored pair, with its references in order."""
    score = PairScore(*fields)
    verdict = decide(score)
    if verdict is None:
        return None
    a, b = sorted((first.ref, second.ref))
    if verdict.matched_by is not None:
        return Link(a, b, verdict.matched_by.value, score.weight)
    reason = f"{verdict.reason}: {score.describe()}"
    return ReviewPair(a, b, score.weight, reason)


def _judge(
    people: Sequence[CleanPerson], pairs: Iterable[tuple[int, int]], scorer: PairScorer
) -> MatchResult:
    """Score and decide pairs (positions in `people`) into sorted links and reviews.

    Most pairs are nothing (no shared identifier, weight below review): they
    are dropped from their levels and weight alone, with no `PairScore` built.
    """
    fields_of = scorer.fields
    links: list[Link] = []
    reviews: list[ReviewPair] = []
    for one, two in pairs:
        fields = fields_of(people[one], people[two])
        _, _, _, pnc, cro, weight, noms, _, _ = fields
        if not needs_verdict(weight, pnc, cro, noms):
            continue
        outcome = _outcome(people[one], people[two], fields)
        if isinstance(outcome, Link):
            links.append(outcome)
        elif isinstance(outcome, ReviewPair):
            reviews.append(outcome)
    return MatchResult(tuple(sorted(links)), tuple(sorted(reviews)))


def match_population(persons: Sequence[Person]) -> MatchResult:
    """Link the records of a population that are the same person (both agencies)."""
    cleaned = sorted(_unique_clean(persons).values(), key=sort_key)
    scorer = PairScorer(TermCounts.of(cleaned))
    pairs = candidate_pairs(cleaned, _far_dates_cannot_score(scorer))
    return _judge(cleaned, pairs, scorer)


def _far_dates_cannot_score(scorer: PairScorer) -> Callable[[Sequence[CleanPerson]], bool]:
    """Whether no pair of a name block with plainly different dates of birth and no
    shared identifier can reach review (so such pairs need not be scored)."""

    def cannot_score(block: Sequence[CleanPerson]) -> bool:
        names = {(person.surname, person.forename) for person in block}
        return scorer.far_dates_best_weight(names) < REVIEW_THRESHOLD

    return cannot_score


class MatchIndex:
    """An indexed population that one new record at a time is matched against."""

    def __init__(self) -> None:
        """An empty index; use `MatchIndex.build` for a population."""
        self._records: dict[RecordRef, Person] = {}
        self._people: dict[RecordRef, CleanPerson] = {}
        self._blocks: dict[str, list[SortKey]] = defaultdict(list)
        self._counts = TermCounts()

    @classmethod
    def build(cls, persons: Iterable[Person]) -> MatchIndex:
        """An index over a population."""
        index = cls()
        records = list(persons)
        index._people = _unique_clean(records)
        index._records = {person.ref: person for person in records}
        for person in index._people.values():
            index._counts.add(person)
            key = sort_key(person)
            for block in blocking_keys(person):
                index._blocks[block].append(key)
        for members in index._blocks.values():
            members.sort()
        return index

    def __len__(self) -> int:
        """How many records are indexed."""
        return len(self._people)

    def add(self, person: Person) -> None:
        """Index one record (replacing an indexed record with the same reference)."""
        self.remove(person.ref)
        cleaned = clean_person(person)
        self._records[cleaned.ref] = person
        self._people[cleaned.ref] = cleaned
        self._counts.add(cleaned)
        key = sort_key(cleaned)
        for block in blocking_keys(cleaned):
            insort(self._blocks[block], key)

    def remove(self, ref: RecordRef) -> None:
        """Forget an indexed record; nothing happens if it is not indexed."""
        cleaned = self._people.pop(ref, None)
        if cleaned is None:
            return
        del self._records[ref]
        self._counts.add(cleaned, times=-1)
        key = sort_key(cleaned)
        for block in blocking_keys(cleaned):
            members = self._blocks[block]
            members.pop(bisect_left(members, key))
            if not members:
                del self._blocks[block]

    def match(self, person: Person) -> MatchResult:
        """Links and reviews between one record and the indexed population.

        The record is matched as if it were added to the index; an indexed
        record with the same reference is left out. The index is unchanged.
        """
        stored = self._records.get(person.ref)
        if stored is None:
            return self._match_clean(clean_person(person))
        self.remove(person.ref)
        try:
            return self._match_clean(clean_person(person))
        finally:
            self.add(stored)

    def _match_clean(self, probe: CleanPerson) -> MatchResult:
        """Match a cleaned record that is not in the index."""
        scorer = PairScorer(CountsWithProbe(self._counts, probe))
        refs = self._candidates(probe)
        people = [probe, *(self._people[ref] for ref in refs)]
        return _judge(people, ((PROBE, other) for other in range(1, len(people))), scorer)

    def _candidates(self, probe: CleanPerson) -> set[RecordRef]:
        """References blocked with a record, large blocks as a neighbourhood."""
        key = sort_key(probe)
        found: set[RecordRef] = set()
        for block in blocking_keys(probe):
            members = self._blocks.get(block)
            if not members:
                continue
            if len(members) + 1 > MAX_BLOCK_SIZE:
                position = bisect_left(members, key)
                members = members[max(0, position - NEIGHBOURHOOD) : position + NEIGHBOURHOOD]
            found.update(self._ref_of(member) for member in members)
        return found

    @staticmethod
    def _ref_of(key: SortKey) -> RecordRef:
        """The reference a sort key ends with."""
        _, _, _, agency, person_id = key
        return RecordRef(Agency(agency), person_id)
