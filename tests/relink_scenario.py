"""Feed lines of one relinking scenario, shared by the flag-identity tests.

A police person record (Q-1, QUINCE) holds an assessment and is first a subject
of its own; corrected later (same id, later `updated_at`), it becomes ALDER,
who is also a probation person (A000001) and a second police record (Q-9).
ALDER's subject holds two records to Q-1's one, so it keeps its id when Q-1
joins it, whatever the ids (subject ids are keyed per ledger).
"""

from __future__ import annotations

from tests.feed_records import STAMP, Record, completed_assessment, person

CORRECTED_AT = "2026-02-01T00:00:00Z"


def _alder(agency: str, person_id: str, updated_at: str = STAMP) -> Record:
    return person(
        agency,
        person_id,
        surname="ALDER",
        forenames="Adam",
        date_of_birth="1960-01-01",
        updated_at=updated_at,
    )


PROBATION = [
    _alder("probation", "A000001"),
    completed_assessment("probation", "PA", "A000001", "2025-05-12"),
]
POLICE_QA = completed_assessment("police", "QA", "Q-1", "2025-05-10")
QUINCE = person(
    "police",
    "Q-1",
    surname="QUINCE",
    forenames="Quinn",
    date_of_birth="1971-02-03",
    updated_at=STAMP,
)
ALDER = _alder("police", "Q-1", updated_at=CORRECTED_AT)  # Q-1, corrected
ALDER_TOO = _alder("police", "Q-9")
BEFORE = [QUINCE, POLICE_QA, ALDER_TOO]  # the police feed before the correction
AFTER = [ALDER, POLICE_QA, ALDER_TOO]  # and after it
