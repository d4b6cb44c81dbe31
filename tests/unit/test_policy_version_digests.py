"""A policy version's digest covers what it decides by; an edited recorded version is refused."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from sync.core.policy import PI_15_2015, PolicyVersion
from sync.core.records import Owner
from sync.errors import ConfigurationError
from sync.policy_file import DIGEST_CHARS, require_same_versions, version_digest

LATER = PolicyVersion(
    id="local-later",
    effective_from=date(2027, 4, 1),
    rules=(("PROB-SEXUAL", Owner.PROBATION), ("NONE-NOT-IN-SCOPE", Owner.NONE)),
)


def edited(version: PolicyVersion, **changes: object) -> PolicyVersion:
    """The version with `changes`, under the same id."""
    return replace(version, **changes)  # type: ignore[arg-type]


def recorded(*versions: PolicyVersion) -> list[dict[str, object]]:
    """What a run records of the versions it decided under."""
    return [{"id": version.id, "digest": version_digest(version)} for version in versions]


# What runs have recorded for the built-in first version: a later release must read the same.
PI_15_2015_DIGEST = "ef654c35a650a5b9"


def test_the_first_versions_digest_is_the_one_earlier_runs_recorded() -> None:
    assert version_digest(PI_15_2015) == PI_15_2015_DIGEST
    require_same_versions((PI_15_2015,), [{"id": "pi-15-2015", "digest": PI_15_2015_DIGEST}])


def test_a_digest_is_short_hex_and_the_same_for_the_same_content() -> None:
    digest = version_digest(LATER)
    assert len(digest) == DIGEST_CHARS == 16
    assert re.fullmatch("[0-9a-f]{16}", digest)
    assert version_digest(edited(LATER)) == digest
    assert version_digest(edited(LATER, id="another-id")) == digest  # the id is told beside it


@pytest.mark.parametrize(
    "changes",
    [
        {"effective_from": date(2027, 5, 1)},
        {"effective_from": None},
        {"rules": (("PROB-SEXUAL", Owner.POLICE), ("NONE-NOT-IN-SCOPE", Owner.NONE))},
        {"rules": (("POLICE-REGISTERED", Owner.PROBATION), ("NONE-NOT-IN-SCOPE", Owner.NONE))},
        {"rollout_offset_months": 3},
        {"planned_length_months": 18},
    ],
    ids=["date", "no-date", "owner", "rule", "rollout", "planned-length"],
)
def test_every_part_a_version_decides_by_changes_its_digest(changes: dict[str, object]) -> None:
    assert version_digest(edited(LATER, **changes)) != version_digest(LATER)


def test_the_order_of_the_rules_changes_the_digest() -> None:
    two_first = edited(
        PI_15_2015, rules=(PI_15_2015.rules[1], PI_15_2015.rules[0], *PI_15_2015.rules[2:])
    )
    assert version_digest(two_first) != version_digest(PI_15_2015)


def test_versions_as_recorded_and_new_ones_are_accepted() -> None:
    require_same_versions((PI_15_2015, LATER), recorded(PI_15_2015))
    require_same_versions((PI_15_2015, LATER), recorded(PI_15_2015, LATER))
    require_same_versions((PI_15_2015,), [])
    require_same_versions((PI_15_2015,), [{"id": "retired-version", "digest": "0" * 16}])


@pytest.mark.parametrize("changes", [{"rollout_offset_months": 3}, {"effective_from": None}])
def test_a_version_edited_under_a_recorded_id_is_refused_naming_it(
    changes: dict[str, object],
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        require_same_versions((PI_15_2015, edited(LATER, **changes)), recorded(PI_15_2015, LATER))
    assert str(refused.value).startswith(
        "Policy version local-later is not the one earlier runs decided under"
    )


def test_ids_are_told_apart_exactly() -> None:
    upper = edited(LATER, id="LOCAL-LATER")
    require_same_versions((edited(upper, rollout_offset_months=3),), recorded(LATER))
    with pytest.raises(ConfigurationError, match="Policy version LOCAL-LATER is not the one"):
        require_same_versions((edited(upper, rollout_offset_months=3),), recorded(upper))
