"""`keys import`: each party's public keys come from the ring it published, and only those.

The hub and each agency keep key directories of their own. A published ring can
add its own party's keys and move them on (rotated, revoked), but never touch
another party's keys, and an older copy never undoes a rotation or revocation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sync.cli.keys_cmd import keys
from sync.errors import ConfigurationError, KeyError_

pytestmark = pytest.mark.e2e


def _keys(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(keys, list(args))


def _directory(runner: CliRunner, root: Path, party: str) -> Path:
    """A key directory of one party's own, as that party's host keeps it."""
    directory = root / party
    assert _keys(runner, "generate", "--party", party, "--dir", str(directory)).exit_code == 0
    return directory


def _ring(directory: Path) -> list[dict[str, object]]:
    document = json.loads((directory / "ring.json").read_text(encoding="utf-8"))
    return list(document["keys"])


def _statuses(directory: Path, party: str) -> dict[str, str]:
    return {str(k["key_id"]): str(k["status"]) for k in _ring(directory) if k["party"] == party}


def _import(runner: CliRunner, hub: Path, party: str, published: Path) -> Result:
    return _keys(runner, "import", "--party", party, "--dir", str(hub), str(published))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def hub(runner: CliRunner, tmp_path: Path) -> Path:
    return _directory(runner, tmp_path, "hub")


@pytest.fixture
def police(runner: CliRunner, tmp_path: Path) -> Path:
    return _directory(runner, tmp_path, "police")


def test_a_party_s_published_keys_are_added_and_nothing_else_changes(
    runner: CliRunner, hub: Path, police: Path
) -> None:
    hub_keys_before = [k for k in _ring(hub) if k["party"] == "hub"]

    result = _import(runner, hub, "police", police / "ring.json")

    assert result.exit_code == 0, result.output
    assert _statuses(hub, "police") == _statuses(police, "police")
    assert set(_statuses(hub, "police").values()) == {"active"}
    assert [k for k in _ring(hub) if k["party"] == "hub"] == hub_keys_before


def test_keys_of_another_party_in_a_published_ring_are_left_out(
    runner: CliRunner, hub: Path, police: Path, tmp_path: Path
) -> None:
    """A police ring carrying keys 'for probation' cannot speak for probation."""
    forged = _directory(runner, tmp_path / "forger", "probation")
    published = tmp_path / "police-ring.json"
    published.write_text(
        json.dumps({"format": 1, "keys": _ring(police) + _ring(forged)}), encoding="utf-8"
    )

    assert _import(runner, hub, "police", published).exit_code == 0

    assert _statuses(hub, "probation") == {}
    assert _statuses(hub, "police") == _statuses(police, "police")


def test_an_older_copy_never_undoes_a_revocation(
    runner: CliRunner, hub: Path, police: Path, tmp_path: Path
) -> None:
    old_copy = tmp_path / "old-police-ring.json"
    old_copy.write_bytes((police / "ring.json").read_bytes())
    _import(runner, hub, "police", old_copy)
    key_id = next(iter(_statuses(hub, "police")))
    revoked = _keys(
        runner, "revoke", "--party", "police", "--key-id", str(key_id), "--dir", str(hub)
    )
    assert revoked.exit_code == 0, revoked.output

    again = _import(runner, hub, "police", old_copy)

    assert again.exit_code == 0
    assert set(_statuses(hub, "police").values()) == {"revoked"}
    assert "Nothing new from police" in again.output


def test_a_rotation_published_moves_the_old_keys_on_and_adds_the_new(
    runner: CliRunner, hub: Path, police: Path
) -> None:
    _import(runner, hub, "police", police / "ring.json")
    rotated = _keys(
        runner, "rotate", "--party", "police", "--grace-days", "7", "--dir", str(police)
    )
    assert rotated.exit_code == 0, rotated.output

    assert _import(runner, hub, "police", police / "ring.json").exit_code == 0

    assert _statuses(hub, "police") == _statuses(police, "police")
    assert sorted(_statuses(hub, "police").values()) == [
        "active",
        "active",
        "decrypt-only",
        "decrypt-only",
    ]


def test_a_party_whose_private_keys_are_here_is_not_imported(
    runner: CliRunner, hub: Path, police: Path
) -> None:
    before = (hub / "ring.json").read_bytes()
    result = _import(runner, hub, "hub", police / "ring.json")
    assert isinstance(result.exception, KeyError_)
    assert (
        str(result.exception) == "hub's keys are made in this key directory; they are not imported."
    )
    assert (hub / "ring.json").read_bytes() == before


def test_a_ring_in_a_format_this_version_does_not_read_is_refused(
    runner: CliRunner, hub: Path, police: Path, tmp_path: Path
) -> None:
    published = tmp_path / "future-ring.json"
    published.write_text(json.dumps({"format": 2, "keys": _ring(police)}), encoding="utf-8")
    before = (hub / "ring.json").read_bytes()

    result = _import(runner, hub, "police", published)

    assert isinstance(result.exception, ConfigurationError)
    assert "format this version does not read (format 2, not 1)" in str(result.exception)
    assert (hub / "ring.json").read_bytes() == before
