"""`keys list`, `keys rotate` and `keys revoke`: what each shows, the grace period, key ids."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sync.cli.keys_cmd import keys

pytestmark = pytest.mark.e2e


def _keys(*args: str) -> Result:
    return CliRunner().invoke(keys, list(args))


def _listed(directory: Path) -> list[dict[str, object]]:
    result = _keys("list", "--json", "--dir", str(directory))
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def _police(directory: Path, generation: int) -> list[dict[str, object]]:
    return [
        key
        for key in _listed(directory)
        if key["party"] == "police" and key["generation"] == generation
    ]


def _moment(value: object) -> datetime:
    moment = datetime.fromisoformat(str(value))
    assert moment.tzinfo is not None, value
    return moment


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    """A key directory holding the police's first keys."""
    directory = tmp_path / "keys"
    made = _keys("generate", "--party", "police", "--dir", str(directory))
    assert made.exit_code == 0, made.output
    return directory


def _grace(directory: Path) -> timedelta:
    """How long the first keys stay decrypt-only after the rotation that made the second."""
    [old_until] = {_moment(key["grace_until"]) for key in _police(directory, 1)}
    [rotated_at] = {_moment(key["created_at"]) for key in _police(directory, 2)}
    return old_until - rotated_at


def test_a_rotation_without_grace_days_gives_the_old_keys_thirty_days(key_dir: Path) -> None:
    """The default grace period is 30 days from the rotation."""
    rotated = _keys("rotate", "--party", "police", "--dir", str(key_dir))
    assert rotated.exit_code == 0, rotated.output
    assert _grace(key_dir) == timedelta(days=30)


def test_grace_days_count_whole_days(key_dir: Path) -> None:
    """`--grace-days 3` keeps the old keys opening for three days, not three hours."""
    rotated = _keys("rotate", "--party", "police", "--grace-days", "3", "--dir", str(key_dir))
    assert rotated.exit_code == 0, rotated.output
    assert _grace(key_dir) == timedelta(days=3)


def test_a_rotation_with_no_grace_is_accepted(key_dir: Path) -> None:
    """`--grace-days 0` retires the old keys at once; a negative period is bad usage."""
    negative = _keys("rotate", "--party", "police", "--grace-days", "-1", "--dir", str(key_dir))
    assert negative.exit_code == 2
    assert len(_listed(key_dir)) == 2

    rotated = _keys("rotate", "--party", "police", "--grace-days", "0", "--dir", str(key_dir))

    assert rotated.exit_code == 0, rotated.output
    assert _grace(key_dir) == timedelta(0)


def test_a_rotation_reports_the_new_keys(key_dir: Path) -> None:
    """`rotate` prints one line per key it made: the police's new active pair."""
    rotated = _keys("rotate", "--party", "police", "--dir", str(key_dir))
    lines = rotated.stdout.splitlines()
    assert len(lines) == 2
    assert all(line.split()[0] == "police" and "gen 2" in line for line in lines)
    assert all(line.split()[-1] == "active" for line in lines)
    assert {line.split()[2] for line in lines} == {str(k["key_id"]) for k in _police(key_dir, 2)}


def test_the_listing_says_until_when_a_decrypt_only_key_opens(key_dir: Path) -> None:
    """A key in its grace period is listed with the end of that period."""
    _keys("rotate", "--party", "police", "--grace-days", "5", "--dir", str(key_dir))
    shown = _keys("list", "--dir", str(key_dir)).stdout.splitlines()
    for key in _police(key_dir, 1):
        [line] = [line for line in shown if str(key["key_id"]) in line]
        assert line.endswith(f"decrypt-only until {key['grace_until']}")


def test_the_json_listing_gives_full_times_and_when_a_key_was_revoked(key_dir: Path) -> None:
    """`list --json` has the creation time with its zone, and a revoked key's time of revocation."""
    [first, *_] = _police(key_dir, 1)
    revoked = _keys(
        "revoke", "--party", "police", "--key-id", str(first["key_id"]), "--dir", str(key_dir)
    )
    assert revoked.exit_code == 0, revoked.output

    for key in _police(key_dir, 1):
        assert key["status"] == "revoked"
        assert _moment(key["revoked_at"]) >= _moment(key["created_at"])
        assert str(key["revoked_at"]) in revoked.stdout


def test_a_key_id_is_taken_in_upper_case_and_with_spaces_around_it(key_dir: Path) -> None:
    """A key id pasted in capitals or with spaces still names the key."""
    [first, *_] = _police(key_dir, 1)
    given = f"  {str(first['key_id']).upper()} "

    revoked = _keys("revoke", "--party", "police", "--key-id", given, "--dir", str(key_dir))

    assert revoked.exit_code == 0, revoked.output
    assert {key["status"] for key in _police(key_dir, 1)} == {"revoked"}


def test_an_empty_key_directory_is_listed_as_empty(tmp_path: Path) -> None:
    """Text listing says so on stderr; the JSON listing is empty and silent."""
    directory = tmp_path / "keys"
    directory.mkdir()

    text = _keys("list", "--dir", str(directory))
    as_json = _keys("list", "--json", "--dir", str(directory))

    assert (text.exit_code, text.stdout, text.stderr) == (
        0,
        "",
        "No keys in this key directory.\n",
    )
    assert (as_json.exit_code, as_json.stdout, as_json.stderr) == (0, "", "")
