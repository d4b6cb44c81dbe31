"""Deciding what a scored pair is: a link, a pair for review, or nothing.

In order:
1. A shared PNC (or, failing that, CRO, then NOMS number) links the pair with
   `matched_by` of that identifier, unless another identifier conflicts, or the surname and
   the date of birth both contradict it (each at its DISAGREE level: beyond
   every fuzzy, swapped and near level, and both present); those go to review.
2. Possible twins (surname and date of birth exact, forenames disagree),
   pairs whose identifiers conflict (two different PNCs, CROs or NOMS numbers,
   none agreeing), pairs with no date of birth to compare (missing, or a
   placeholder, on either side: names alone never link two people), pairs
   with no surname to compare (a placeholder such as `UNKNOWN`), and pairs
   whose surnames, dates of birth or recorded genders plainly disagree (a
   namesake a generation apart, a twin sister, a man who shares another's
   forename and date of birth) are never linked automatically: reviewed when
   the weight reaches review.
3. Otherwise the weight decides: at least `JOIN_THRESHOLD` links with
   `matched_by="PROBABILISTIC"`; at least `REVIEW_THRESHOLD` is reviewed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sync.core.matching.comparisons import AttributeLevel, DateLevel, IdentifierLevel, NameLevel
from sync.core.matching.scoring import PairScore

JOIN_THRESHOLD = 19.0
REVIEW_THRESHOLD = 14.0
_AGREE = IdentifierLevel.AGREE


class MatchedBy(StrEnum):
    """What made a link."""

    PNC = "PNC"
    CRO = "CRO"
    NOMS = "NOMS"
    PROBABILISTIC = "PROBABILISTIC"


class ReviewReason(StrEnum):
    """Why a pair needs a person to look at it (evidence, never values)."""

    IDENTIFIER_CONFLICT = "one identifier agrees and another conflicts"
    IDENTIFIER_CONTRADICTED = "identifier agrees but surname and date of birth both disagree"
    POSSIBLE_TWINS = "possible twins: surname and date of birth agree, forenames differ"
    IDENTIFIERS_DIFFER = "details agree but their identifiers differ"
    NO_DATE_OF_BIRTH = "names agree but there is no date of birth to compare"
    SURNAMES_DIFFER = "details agree but the surnames differ"
    NO_SURNAME = "details agree but there is no surname to compare"
    DATES_OF_BIRTH_DIFFER = "names agree but the dates of birth differ"
    GENDERS_DIFFER = "details agree but the recorded genders differ"
    UNCERTAIN = "match weight between the review and join thresholds"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one pair: a link (`matched_by`) or a review (`reason`)."""

    matched_by: MatchedBy | None
    reason: ReviewReason | None


def _linking_identifier(score: PairScore) -> MatchedBy | None:
    """PNC if the PNCs agree, else CRO, else NOMS, else `None`."""
    if score.pnc is IdentifierLevel.AGREE:
        return MatchedBy.PNC
    if score.cro is IdentifierLevel.AGREE:
        return MatchedBy.CRO
    if score.noms is IdentifierLevel.AGREE:
        return MatchedBy.NOMS
    return None


def _identifier_verdict(score: PairScore, identifier: MatchedBy) -> Verdict:
    """The verdict for a pair sharing an identifier."""
    if _identifiers_conflict(score):
        return Verdict(None, ReviewReason.IDENTIFIER_CONFLICT)
    if is_contradicted(score):
        return Verdict(None, ReviewReason.IDENTIFIER_CONTRADICTED)
    return Verdict(identifier, None)


def is_contradicted(score: PairScore) -> bool:
    """True when both the surname and the date of birth plainly disagree."""
    return score.surname is NameLevel.DISAGREE and score.date_of_birth is DateLevel.DISAGREE


def is_possible_twin(score: PairScore) -> bool:
    """True for the same surname and date of birth with unrelated forenames."""
    return (
        score.surname is NameLevel.EXACT
        and score.date_of_birth is DateLevel.EXACT
        and score.forename is NameLevel.DISAGREE
    )


def needs_verdict(
    weight: float, pnc: IdentifierLevel, cro: IdentifierLevel, noms: IdentifierLevel
) -> bool:
    """False when `decide` certainly says nothing: no identifier agrees and the
    weight is below `REVIEW_THRESHOLD` (so a `PairScore` need not be built)."""
    return weight >= REVIEW_THRESHOLD or _AGREE in (pnc, cro, noms)


def decide(score: PairScore) -> Verdict | None:
    """The verdict for a scored pair, or `None` when it is nothing."""
    identifier = _linking_identifier(score)
    if identifier is not None:
        return _identifier_verdict(score, identifier)
    if score.weight < REVIEW_THRESHOLD:
        return None
    never_linked = _never_linked_on_weight(score)
    if never_linked is not None:
        return Verdict(None, never_linked)
    if score.weight >= JOIN_THRESHOLD:
        return Verdict(MatchedBy.PROBABILISTIC, None)
    return Verdict(None, ReviewReason.UNCERTAIN)


def _never_linked_on_weight(score: PairScore) -> ReviewReason | None:
    """Why a pair with no shared identifier is reviewed however high it scores, if it is."""
    return next((reason for holds, reason in _NEVER_LINKED_ON_WEIGHT if holds(score)), None)


def _identifiers_conflict(score: PairScore) -> bool:
    return IdentifierLevel.CONFLICT in (score.pnc, score.cro, score.noms)


# What keeps a pair without a shared identifier from linking on weight, in order.
_NEVER_LINKED_ON_WEIGHT: tuple[tuple[Callable[[PairScore], bool], ReviewReason], ...] = (
    (is_possible_twin, ReviewReason.POSSIBLE_TWINS),
    (_identifiers_conflict, ReviewReason.IDENTIFIERS_DIFFER),
    (lambda score: score.date_of_birth is DateLevel.MISSING, ReviewReason.NO_DATE_OF_BIRTH),
    (lambda score: score.surname is NameLevel.DISAGREE, ReviewReason.SURNAMES_DIFFER),
    (lambda score: score.surname is NameLevel.MISSING, ReviewReason.NO_SURNAME),
    (
        lambda score: score.date_of_birth is DateLevel.DISAGREE,
        ReviewReason.DATES_OF_BIRTH_DIFFER,
    ),
    (lambda score: score.gender is AttributeLevel.DISAGREE, ReviewReason.GENDERS_DIFFER),
)
