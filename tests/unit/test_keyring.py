"""The key directory: generation, rotation, revocation, listing and loading."""

from __future__ import annotations

import errno
import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from sync.crypto.key_file import create_data_key_file
from sync.crypto.keyring import (
    generate_party,
    import_party,
    list_keys,
    load_data_key,
    load_keyring,
    private_parties,
    revoke,
    rotate,
)
from sync.crypto.keys import KeyRing, KeyStatus, KeyUse, Party
from sync.errors import ConfigurationError, KeyError_

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
GRACE = timedelta(days=7)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    for party in Party:
        generate_party(directory, party, now=T0)
    return directory


def test_generate_makes_one_active_signing_and_encryption_key_per_party(key_dir: Path) -> None:
    infos = list_keys(key_dir)
    assert sorted((i.party.value, i.use.value) for i in infos) == sorted(
        (party.value, use.value) for party in Party for use in KeyUse
    )
    assert all(i.status is KeyStatus.ACTIVE and i.generation == 1 for i in infos)
    assert all(i.created_at == T0 for i in infos)


def test_key_id_is_first_16_bytes_of_sha256_of_raw_public_key(key_dir: Path) -> None:
    for info in list_keys(key_dir):
        assert len(info.public_key) == 32
        assert info.key_id == hashlib.sha256(info.public_key).digest()[:16].hex()


def test_private_files_are_owner_only(key_dir: Path) -> None:
    private_files = list((key_dir / "private").rglob("*.pem"))
    assert len(private_files) == 6
    assert all(_mode(path) == 0o600 for path in private_files)
    assert all(_mode(path) == 0o700 for path in (key_dir / "private").iterdir())
    assert _mode(key_dir / "private") == 0o700


def test_only_the_hub_gets_the_data_key(key_dir: Path) -> None:
    assert _mode(key_dir / "private" / "hub" / "data.key") == 0o600
    assert not list((key_dir / "private" / "probation").glob("*.key"))
    data_key = load_data_key(key_dir)
    assert data_key.aead_key != data_key.mac_key


def test_a_data_key_already_made_is_kept_when_the_hub_gets_its_keys(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    hub_private = directory / "private" / "hub"
    hub_private.mkdir(parents=True)
    made_first = create_data_key_file(hub_private / "data.key")

    generate_party(directory, Party.HUB, now=T0)

    assert load_data_key(directory) == made_first
    assert [path.name for path in hub_private.iterdir() if path.name.startswith(".")] == []


def test_public_ring_holds_no_private_material(key_dir: Path) -> None:
    ring_text = (key_dir / "ring.json").read_text()
    assert "PRIVATE" not in ring_text
    assert "aead_key" not in ring_text
    document = json.loads(ring_text)
    assert {entry["status"] for entry in document["keys"]} == {"active"}


def test_generate_twice_is_refused(key_dir: Path) -> None:
    with pytest.raises(KeyError_, match="already has keys"):
        generate_party(key_dir, Party.POLICE, now=T0)


def test_rotate_demotes_active_keys_and_makes_a_new_generation(key_dir: Path) -> None:
    later = T0 + timedelta(days=1)
    created = rotate(key_dir, Party.PROBATION, GRACE, now=later)
    infos = list_keys(key_dir)
    old = [i for i in infos if i.party is Party.PROBATION and i.generation == 1]
    assert {i.status for i in old} == {KeyStatus.DECRYPT_ONLY}
    assert {i.grace_until for i in old} == {later + GRACE}
    assert {(i.generation, i.status) for i in created} == {(2, KeyStatus.ACTIVE)}
    others = [i for i in infos if i.party is not Party.PROBATION]
    assert {i.status for i in others} == {KeyStatus.ACTIVE}


def test_rotate_twice_keeps_the_first_grace_period(key_dir: Path) -> None:
    rotate(key_dir, Party.HUB, GRACE, now=T0)
    rotate(key_dir, Party.HUB, timedelta(days=1), now=T0 + timedelta(hours=1))
    by_generation = {i.generation: i for i in list_keys(key_dir) if i.party is Party.HUB}
    assert by_generation[1].grace_until == T0 + GRACE
    assert by_generation[2].grace_until == T0 + timedelta(days=1, hours=1)
    assert by_generation[3].status is KeyStatus.ACTIVE


def test_rotate_without_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError_, match="no keys yet"):
        rotate(tmp_path, Party.POLICE, GRACE, now=T0)


def test_revoke_revokes_the_key_and_its_sibling_only(key_dir: Path) -> None:
    rotate(key_dir, Party.POLICE, GRACE, now=T0)
    old_sign = next(
        i
        for i in list_keys(key_dir)
        if i.party is Party.POLICE and i.use is KeyUse.SIGN and i.generation == 1
    )
    revoked = revoke(key_dir, Party.POLICE, old_sign.key_id, now=T0)
    assert {(i.use, i.status) for i in revoked} == {
        (KeyUse.SIGN, KeyStatus.REVOKED),
        (KeyUse.ENCRYPT, KeyStatus.REVOKED),
    }
    police = [i for i in list_keys(key_dir) if i.party is Party.POLICE]
    assert {i.status for i in police if i.generation == 2} == {KeyStatus.ACTIVE}
    assert {i.revoked_at for i in police if i.generation == 1} == {T0}


def test_revoke_refuses_another_partys_or_unknown_key(key_dir: Path) -> None:
    hub_key = next(i for i in list_keys(key_dir) if i.party is Party.HUB)
    with pytest.raises(KeyError_, match="not a key of"):
        revoke(key_dir, Party.POLICE, hub_key.key_id, now=T0)
    with pytest.raises(KeyError_, match="not a key of"):
        revoke(key_dir, Party.POLICE, "0" * 32, now=T0)


def test_usable_at_follows_status_and_grace(key_dir: Path) -> None:
    rotate(key_dir, Party.HUB, GRACE, now=T0)
    old = next(i for i in list_keys(key_dir) if i.party is Party.HUB and i.generation == 1)
    assert old.usable_at(T0 + GRACE)
    assert not old.usable_at(T0 + GRACE + timedelta(seconds=1))
    revoke(key_dir, Party.HUB, old.key_id, now=T0)
    gone = next(i for i in list_keys(key_dir) if i.key_id == old.key_id)
    assert not gone.usable_at(T0)


def test_load_keyring_holds_only_my_private_keys(key_dir: Path) -> None:
    ring = load_keyring(key_dir, Party.PROBATION)
    mine = {i.key_id for i in list_keys(key_dir) if i.party is Party.PROBATION}
    assert set(ring.signing_keys) | set(ring.encryption_keys) == mine
    assert len(ring.keys) == 6


def test_load_keyring_refuses_missing_directory_or_foreign_party(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_keyring(tmp_path / "nowhere", Party.HUB)
    generate_party(tmp_path, Party.POLICE, now=T0)
    with pytest.raises(ConfigurationError, match="no private keys"):
        load_keyring(tmp_path, Party.HUB)


def test_load_keyring_refuses_a_swapped_private_key(key_dir: Path) -> None:
    folder = key_dir / "private" / "police"
    sign_file = next(folder.glob("sign-*.pem"))
    other = next((key_dir / "private" / "hub").glob("sign-*.pem"))
    sign_file.write_bytes(other.read_bytes())
    with pytest.raises(ConfigurationError, match="does not match"):
        load_keyring(key_dir, Party.POLICE)


def test_corrupt_ring_is_a_configuration_error(key_dir: Path) -> None:
    (key_dir / "ring.json").write_text("{not json")
    with pytest.raises(
        ConfigurationError, match=r"is not a key ring \(it is damaged or another kind of file\)\.$"
    ):
        list_keys(key_dir)


def test_missing_data_key_is_a_configuration_error(tmp_path: Path) -> None:
    generate_party(tmp_path, Party.PROBATION, now=T0)
    with pytest.raises(ConfigurationError, match="data key"):
        load_data_key(tmp_path)


def test_private_parties_lists_whose_private_keys_are_held(key_dir: Path) -> None:
    assert set(private_parties(key_dir)) == set(Party)


def test_private_keys_in_a_folder_that_cannot_be_read_are_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests run as root, whom permissions do not stop: the refusal the
    # system gives another account is raised here by hand.
    generate_party(tmp_path, Party.HUB, now=T0)
    private = tmp_path / "private" / "hub"
    looked_up = Path.exists

    def refused(path: Path) -> bool:
        if path.parent == private:
            raise PermissionError(13, "Permission denied")
        return looked_up(path)

    monkeypatch.setattr(Path, "exists", refused)
    with pytest.raises(ConfigurationError, match=r"cannot be read \(check the folder's"):
        load_keyring(tmp_path, Party.HUB)


def _private_files(directory: Path) -> set[Path]:
    return set((directory / "private").rglob("*.pem"))


def _ring_not_written(directory: Path, keys: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("command", ["generate", "rotate"])
def test_keys_the_ring_could_not_list_leave_no_private_file_behind(
    key_dir: Path, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed `generate` or `rotate` (a full disk) leaves the directory as it was."""
    directory = key_dir if command == "rotate" else tmp_path / "new"
    if command == "generate":  # a directory holding another party's keys
        generate_party(directory, Party.HUB, now=T0)
    before = _private_files(directory)
    ring_before = (directory / "ring.json").read_bytes()
    monkeypatch.setattr("sync.crypto.keyring._write_ring", _ring_not_written)
    make_keys = (
        partial(rotate, directory, Party.PROBATION, GRACE, now=T0)
        if command == "rotate"
        else partial(generate_party, directory, Party.PROBATION, now=T0)
    )
    with pytest.raises(OSError, match="No space"):
        make_keys()
    assert _private_files(directory) == before
    assert (directory / "ring.json").read_bytes() == ring_before


def _police_revoked_in_the_hub_s_ring(hub: Path, police: Path | None) -> KeyRing:
    """The hub's ring after the police's keys were revoked in it: kept in the hub's folder
    (`police` None), or made in a folder of the police's own and imported."""
    generate_party(hub, Party.HUB)
    made_in = hub if police is None else police
    infos = generate_party(made_in, Party.POLICE)
    if police is not None:
        import_party(hub, Party.POLICE, police / "ring.json")
    revoke(hub, Party.POLICE, infos[0].key_id)
    return load_keyring(hub, Party.HUB)


def test_a_party_whose_keys_are_made_elsewhere_is_told_to_import_its_new_ones(
    tmp_path: Path,
) -> None:
    ring = _police_revoked_in_the_hub_s_ring(tmp_path / "hub", tmp_path / "police")
    lacking = ring.lacks_active_key(Party.POLICE, KeyUse.ENCRYPT)
    assert str(lacking) == (
        "police has no active encryption key in this key ring; import its current public "
        "keys with `arms-sync keys import --party police RING`."
    )


def test_a_party_whose_keys_are_made_in_the_same_folder_is_told_to_rotate_them(
    tmp_path: Path,
) -> None:
    """As the demo and the compose file keep them: importing there is refused."""
    ring = _police_revoked_in_the_hub_s_ring(tmp_path / "hub", None)
    for use, words in ((KeyUse.ENCRYPT, "encryption"), (KeyUse.SIGN, "signing")):
        assert str(ring.lacks_active_key(Party.POLICE, use)) == (
            f"police has no active {words} key; rotate to make one with "
            "`arms-sync keys rotate --party police`."
        )
