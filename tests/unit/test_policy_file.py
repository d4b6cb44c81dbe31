"""The policy as data: config/policy.toml is the built-in first version; bad files are refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sync.core.policy import PI_15_2015
from sync.errors import ConfigurationError
from sync.policy_file import load_policy_file
from sync.settings import load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "policy.toml"
FIRST_RULES = """rules = [
  { rule = "OUT-NOT-MALE", owner = "none" },
  { rule = "PROB-SEXUAL", owner = "probation" },
  { rule = "POLICE-REGISTERED", owner = "police" },
  { rule = "NONE-NOT-IN-SCOPE", owner = "none" },
]
"""


def test_the_shipped_policy_file_is_the_built_in_first_version() -> None:
    assert load_policy_file(SHIPPED) == (PI_15_2015,)


def test_a_later_version_is_read_with_its_effective_date(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        f'[[version]]\nid = "first"\n{FIRST_RULES}\n'
        f'[[version]]\nid = "later"\neffective_from = 2027-04-01\n'
        f"planned_length_months = 18\n{FIRST_RULES}",
        encoding="utf-8",
    )
    first, later = load_policy_file(path)
    assert (first.id, first.effective_from) == ("first", None)
    assert (later.id, later.effective_from) == ("later", date(2027, 4, 1))
    assert later.planned_length_months == 18
    assert [rule for rule, _owner in later.rules][-1] == "NONE-NOT-IN-SCOPE"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            '[[version]]\nid = "p"\nrules = [{ rule = "PROB-MAYBE", owner = "probation" },'
            ' { rule = "NONE-NOT-IN-SCOPE", owner = "none" }]\n',
            "cannot be used: policy p names unknown rules: PROB-MAYBE.",
        ),
        (
            '[[version]]\nid = "p"\nrules = [{ rule = "PROB-SEXUAL", owner = "probation" }]\n',
            "cannot be used: policy p must end with the rule NONE-NOT-IN-SCOPE.",
        ),
        (
            f'[[version]]\nid = "p"\neffective_from = 2020-01-01\n{FIRST_RULES}',
            "cannot be used: the first policy version must apply from the beginning of time.",
        ),
        (
            f'[[version]]\nid = "p"\n{FIRST_RULES}[[version]]\nid = "q"\n{FIRST_RULES}',
            "cannot be used: later policy versions need strictly increasing effective dates.",
        ),
        (
            f'[[version]]\nid = "p"\n{FIRST_RULES}'
            f'[[version]]\nid = "p"\neffective_from = 2027-01-01\n{FIRST_RULES}',
            "has two versions p.",
        ),
        (
            '[[version]]\nid = "p"\nrules = [{ rule = "NONE-NOT-IN-SCOPE", owner = "court" }]\n',
            "is invalid at version.0.rules.0.owner: Input should be 'probation', 'police' or "
            "'none'.",
        ),
        (
            f'[[version]]\nid = "p"\nrulez = 1\n{FIRST_RULES}',
            "is invalid at version.0.rulez: Extra inputs are not permitted.",
        ),
        (
            f'[[version]]\nid = "p"\nrollout_offset_months = false\n{FIRST_RULES}',
            "is invalid at version.0.rollout_offset_months: Input should be a valid integer.",
        ),
        (
            f'[[version]]\nid = "p"\n{FIRST_RULES}'
            f'[[version]]\nid = "q"\neffective_from = 1798761600\n{FIRST_RULES}',
            "is invalid at version.1.effective_from: write it as a date, YYYY-MM-DD.",
        ),
        (
            '[[version]]\nid = "p"\nrules = [{ rule = "PROB-SEXUAL", owner = "probation" },'
            ' { rule = "PROB-SEXUAL", owner = "police" },'
            ' { rule = "NONE-NOT-IN-SCOPE", owner = "none" }]\n',
            "cannot be used: policy p names the rule PROB-SEXUAL twice.",
        ),
        ("[[version]\n", "is not valid TOML at line 1, column 10."),
        ("", "is invalid at version: Field required."),
    ],
)
def test_a_policy_file_that_cannot_be_used_is_refused_in_one_sentence(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_policy_file(path)
    assert str(caught.value) == f"The policy file {path} {problem}"


def test_a_settings_file_naming_a_missing_policy_file_is_refused_at_once(tmp_path: Path) -> None:
    settings = tmp_path / "s.toml"
    missing = tmp_path / "nowhere.toml"
    settings.write_text(f'[arms_sync]\npolicy_file = "{missing}"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(settings)
    assert str(caught.value) == f"The policy file {missing} does not exist."


def test_a_policy_file_an_editor_began_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SHIPPED.read_bytes())
    assert load_policy_file(path) == (PI_15_2015,)


def test_a_policy_file_that_is_a_folder_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_policy_file(tmp_path)
    assert str(caught.value) == f"The policy file {tmp_path} is a folder."
