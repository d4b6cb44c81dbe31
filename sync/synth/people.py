"""Who a synthetic person really is: name, birth date, gender, area, PNC and CRO.

An `Identity` is the truth; `person_record` writes one agency's copy of it as a
feed-v1 `person` dict, in the identifier styles that agency's system uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sync.core.records import Agency, Gender
from sync.synth.histories import YEAR, History
from sync.synth.randomness import SynthRandom
from sync.synth.references import Cro, Pnc, make_cro, make_pnc
from sync.synth.vocabulary import (
    COMMON_FULL_NAMES,
    FEMALE_FORENAMES,
    FEMALE_FORMAL_NAMES,
    FEMALE_MIDDLE_NAMES,
    FORCE_CUM_WEIGHTS,
    MALE_FORENAME_CUM_WEIGHTS,
    MALE_FORENAMES,
    MALE_FORMAL_NAMES,
    MALE_MIDDLE_NAMES,
    POLICE_FORCES,
    SURNAME_CUM_WEIGHTS,
    SURNAMES,
)

GENDERS = (Gender.MALE, Gender.FEMALE, Gender.OTHER, Gender.UNKNOWN)
GENDER_TEXT = {gender: gender.value for gender in Gender}
GENDER_CUM_WEIGHTS = (90, 96, 97, 100)
MIDDLE_NAME_RATE = 0.2
TURNS_18_RATE = 0.015
TURNS_18_SPREAD_DAYS = 300
ADULT_AGE_YEARS = 18
AGE_AT_FIRST_EVENT = (18.0, 75.0, 30.0)
MIN_AGE_AT_FIRST_CONTACT = 12
PNC_YEARS_BEFORE_FIRST_EVENT = 10
CRO_RATE = 0.7
CRO_SHORT_FORM_RATE = 0.15
PNC_RATE_PROBATION_ONLY = 0.9
PNC_SHORT_FORM_RATE = 0.15
CRO_UNPADDED_RATE = 0.3
MIN_AGE_AT_FIRST_EVENT_DAYS = 12 * YEAR
MIN_TWIN_AGE_DAYS = 16 * YEAR


@dataclass(frozen=True, slots=True)
class Identity:
    """A true person; `born` is an ordinal and `force` indexes `POLICE_FORCES`."""

    surname: str
    forenames: str
    born: int
    gender: Gender
    force: int
    pnc: Pnc | None
    cro: Cro | None

    @property
    def police_area(self) -> str:
        """The police force code of the person's home area."""
        return POLICE_FORCES[self.force][0]

    @property
    def probation_area(self) -> str:
        """The probation region code of the person's home area."""
        return POLICE_FORCES[self.force][1]


def _years_before(day: int, years: int) -> int:
    """The same calendar day `years` earlier (28 February for 29 February)."""
    moment = date.fromordinal(day)
    try:
        return moment.replace(year=moment.year - years).toordinal()
    except ValueError:
        return moment.replace(year=moment.year - years, day=moment.day - 1).toordinal()


def pick_gender(rng: SynthRandom) -> Gender:
    """Mostly male, with some female, other and unknown."""
    return rng.weighted(GENDERS, GENDER_CUM_WEIGHTS)


def pick_forenames(rng: SynthRandom, gender: Gender, formal: bool) -> str:
    """One or two forenames; `formal` picks a first name that has a nickname."""
    female = gender is Gender.FEMALE
    if formal:
        first = rng.choice(FEMALE_FORMAL_NAMES if female else MALE_FORMAL_NAMES)
    elif female:
        first = rng.choice(FEMALE_FORENAMES)
    else:
        first = rng.weighted(MALE_FORENAMES, MALE_FORENAME_CUM_WEIGHTS)
    middle = rng.choice(FEMALE_MIDDLE_NAMES if female else MALE_MIDDLE_NAMES)
    if middle != first and rng.random() < MIDDLE_NAME_RATE:
        return f"{first} {middle}"
    return first


def pick_surname(rng: SynthRandom) -> str:
    """A surname, common ones far more often than rare ones."""
    return rng.weighted(SURNAMES, SURNAME_CUM_WEIGHTS)


def pick_force(rng: SynthRandom) -> int:
    """A police force (and so a probation region), larger forces more often."""
    return rng.weighted(range(len(POLICE_FORCES)), FORCE_CUM_WEIGHTS)


def birth_date(rng: SynthRandom, history: History) -> tuple[int, bool]:
    """A birth date fitting the history, and whether the person turns 18 while supervised."""
    if history.supervisions and rng.random() < TURNS_18_RATE:
        start = history.supervisions[0].start
        born = _years_before(start, ADULT_AGE_YEARS - 1) - rng.randint(0, TURNS_18_SPREAD_DAYS)
        if history.earliest >= born + MIN_AGE_AT_FIRST_EVENT_DAYS:
            return born, True
    age = int(rng.triangular(*AGE_AT_FIRST_EVENT))
    return _years_before(history.earliest, age) - rng.randint(0, YEAR - 1), False


def _pnc_year(rng: SynthRandom, born: int, first_event: int) -> int:
    first_year = date.fromordinal(first_event).year
    earliest_year = max(
        date.fromordinal(born).year + MIN_AGE_AT_FIRST_CONTACT,
        first_year - PNC_YEARS_BEFORE_FIRST_EVENT,
    )
    return rng.randint(min(earliest_year, first_year), first_year)


def make_identifiers(
    rng: SynthRandom, counter: int, born: int, first_event: int, has_pnc: bool
) -> tuple[Pnc | None, Cro | None]:
    """A PNC (when `has_pnc`) and perhaps a CRO, unique to the counter."""
    pnc = make_pnc(counter, _pnc_year(rng, born, first_event)) if has_pnc else None
    cro = None
    if rng.random() < CRO_RATE:
        short = rng.random() < CRO_SHORT_FORM_RATE
        cro = make_cro(counter, _pnc_year(rng, born, first_event), short)
    return pnc, cro


def make_identity(
    rng: SynthRandom,
    counter: int,
    history: History,
    *,
    police_held: bool,
    formal: bool,
    common: bool,
) -> tuple[Identity, bool]:
    """A new person for this history; also whether they turn 18 while supervised."""
    gender = Gender.MALE if common else pick_gender(rng)
    if common:
        forenames, surname = rng.choice(COMMON_FULL_NAMES)
    else:
        forenames, surname = pick_forenames(rng, gender, formal), pick_surname(rng)
    born, turns_18 = birth_date(rng, history)
    has_pnc = police_held or rng.random() < PNC_RATE_PROBATION_ONLY
    pnc, cro = make_identifiers(rng, counter, born, history.earliest, has_pnc)
    identity = Identity(surname, forenames, born, gender, pick_force(rng), pnc, cro)
    return identity, turns_18


def make_twin(
    rng: SynthRandom, counter: int, sibling: Identity, history: History, *, police_held: bool
) -> Identity | None:
    """A twin of `sibling` (same surname, birth date and area), if the history fits."""
    if history.earliest < sibling.born + MIN_TWIN_AGE_DAYS:
        return None
    forenames = sibling.forenames
    while forenames.split(" ")[0] == sibling.forenames.split(" ")[0]:
        forenames = pick_forenames(rng, sibling.gender, formal=False)
    has_pnc = police_held or rng.random() < PNC_RATE_PROBATION_ONLY
    pnc, cro = make_identifiers(rng, counter, sibling.born, history.earliest, has_pnc)
    return Identity(
        sibling.surname, forenames, sibling.born, sibling.gender, sibling.force, pnc, cro
    )


def person_record(
    rng: SynthRandom, agency: Agency, person_id: str, identity: Identity, noms: str | None
) -> dict[str, object]:
    """One agency's `person` record for the identity (without `updated_at`)."""
    pnc: str | None = None
    cro: str | None = None
    probation = agency is Agency.PROBATION
    if identity.pnc is not None:
        short = probation and rng.random() < PNC_SHORT_FORM_RATE
        pnc = identity.pnc.short() if short else identity.pnc.canonical()
    if identity.cro is not None:
        cro = identity.cro.written(padded=not (probation and rng.random() < CRO_UNPADDED_RATE))
    record: dict[str, object] = {
        "type": "person",
        "agency": "probation" if probation else "police",
        "id": person_id,
        "pnc": pnc,
        "cro": cro,
    }
    if probation:
        record["noms"] = noms
    record["surname"] = identity.surname
    record["forenames"] = identity.forenames
    record["date_of_birth"] = date.fromordinal(identity.born).isoformat()
    record["gender"] = GENDER_TEXT[identity.gender]
    record["area"] = identity.probation_area if probation else identity.police_area
    return record
