"""A policy file's ids, months, rules and keys are checked at their bounds, in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import ConfigurationError
from sync.policy_file import load_policy_file
from tests.unit.test_policy_file import FIRST_RULES


def _load(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (f'[[version]]\nid = ""\n{FIRST_RULES}', "is invalid at version.0.id: "),
        (
            f'[[version]]\nid = "p"\nrollout_offset_months = -1\n{FIRST_RULES}',
            "is invalid at version.0.rollout_offset_months: ",
        ),
        (
            f'[[version]]\nid = "p"\nplanned_length_months = 0\n{FIRST_RULES}',
            "is invalid at version.0.planned_length_months: ",
        ),
        (
            f'[[version]]\nid = "p"\nplanned_length_months = 12.0\n{FIRST_RULES}',
            "is invalid at version.0.planned_length_months: Input should be a valid integer.",
        ),
        ('[[version]]\nid = "p"\nrules = []\n', "is invalid at version.0.rules: "),
        ("version = []\n", "is invalid at version: "),
        (
            '[[version]]\nid = "p"\nrules = [{ rule = "NONE-NOT-IN-SCOPE", owner = "none",'
            ' reason = "x" }]\n',
            "is invalid at version.0.rules.0.reason: Extra inputs are not permitted.",
        ),
        (
            f'title = "local"\n[[version]]\nid = "p"\n{FIRST_RULES}',
            "is invalid at title: Extra inputs are not permitted.",
        ),
    ],
    ids=[
        "empty-id",
        "negative-offset",
        "zero-length",
        "fractional-length",
        "no-rules",
        "no-versions",
        "unknown-rule-key",
        "unknown-file-key",
    ],
)
def test_a_value_past_its_bound_is_refused_naming_where(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = _load(tmp_path, content)
    with pytest.raises(ConfigurationError) as caught:
        load_policy_file(path)
    assert str(caught.value).startswith(f"The policy file {path} {problem}")


def test_the_bounds_themselves_are_accepted(tmp_path: Path) -> None:
    path = _load(
        tmp_path,
        f'[[version]]\nid = "p"\nrollout_offset_months = 0\nplanned_length_months = 1\n'
        f"{FIRST_RULES}",
    )
    [version] = load_policy_file(path)
    assert (version.rollout_offset_months, version.planned_length_months) == (0, 1)
