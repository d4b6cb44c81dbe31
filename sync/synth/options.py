"""Options, rates and the summary of a synthetic run.

`SynthOptions` says how many true people to invent, from which seed, with how
much noise and relative to which day. The rates below are the chances at
`noise = 1.0`; every rate is multiplied by `noise`, so 0 gives clean data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sync.errors import UsageError

MIN_NOISE = 0.0
MAX_NOISE = 1.0
DEFAULT_TODAY = date(2026, 11, 28)


class NoiseKind:
    """The names of the noise kinds, as written in `truth.jsonl`."""

    MISSING_IDENTIFIER = "missing_identifier"
    MISTYPED_IDENTIFIER = "mistyped_identifier"
    JUNK_CRO = "junk_cro"
    NAME_TYPO = "name_typo"
    NICKNAME = "nickname"
    SWAPPED_NAMES = "swapped_names"
    NAME_VARIANT = "name_variant"
    SYSTEM_PREFIX = "system_prefix"
    DOB_ERROR = "dob_error"
    PLACEHOLDER_DOB = "placeholder_dob"
    TWIN = "twin"
    COMMON_NAME = "common_name"


# Chances at noise 1.0 for each person record after a subject's first.
RECORD_NOISE_RATES: Mapping[str, float] = {
    NoiseKind.MISSING_IDENTIFIER: 0.30,
    NoiseKind.MISTYPED_IDENTIFIER: 0.03,
    NoiseKind.JUNK_CRO: 0.01,
    NoiseKind.NAME_TYPO: 0.05,
    NoiseKind.SWAPPED_NAMES: 0.02,
    NoiseKind.NAME_VARIANT: 0.04,
    NoiseKind.SYSTEM_PREFIX: 0.01,
    NoiseKind.DOB_ERROR: 0.02,
    NoiseKind.PLACEHOLDER_DOB: 0.01,
}
# Chances at noise 1.0 decided once per subject.
NICKNAME_RATE = 0.03
TWIN_RATE = 0.01
COMMON_NAME_RATE = 0.02


@dataclass(frozen=True, slots=True)
class SynthOptions:
    """What to generate: `subjects` true people from `seed`, `noise` in [0, 1].

    `today` anchors every date; its default is a fixed day so that a seed alone
    always gives the same files.
    """

    subjects: int
    seed: int
    noise: float = 0.0
    today: date = DEFAULT_TODAY

    def __post_init__(self) -> None:
        if self.subjects < 0:
            raise UsageError("subjects: must not be negative")
        if not MIN_NOISE <= self.noise <= MAX_NOISE:
            raise UsageError("noise: must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """Counts of what a run wrote: `records[agency][type]` is a record count."""

    subjects: int
    records: Mapping[str, Mapping[str, int]]

    @property
    def total_records(self) -> int:
        """All feed records written, both agencies."""
        return sum(sum(by_type.values()) for by_type in self.records.values())

    def agency_records(self, agency: str) -> int:
        """Feed records written for one agency."""
        return sum(self.records.get(agency, {}).values())
