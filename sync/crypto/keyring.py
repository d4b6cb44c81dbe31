"""The key directory on disk: generate, rotate, revoke, list and load keys.

Layout of a key directory (documented in `docs/crypto.md`):

    DIR/ring.json                          public ring: every party's public keys and status
    DIR/private/<party>/<use>-<key_id>.pem one PKCS#8 private key (mode 0600)
    DIR/private/hub/data.key               the deployment's at-rest data key (mode 0600)

Nothing here runs at import time: a process calls `load_keyring` once and
passes the `KeyRing` on. Writes replace whole files atomically.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync.crypto.at_rest import DataKey
from sync.crypto.key_file import create_data_key_file, read_data_key_file
from sync.crypto.keys import KeyInfo, KeyRing, KeyStatus, KeyUse, Party, key_id_of
from sync.crypto.whole_files import write_key_file
from sync.errors import ConfigurationError, KeyError_

RING_FILE = "ring.json"
RING_LOCK_FILE = ".ring.lock"
PRIVATE_DIR = "private"
DATA_KEY_FILE = "data.key"
RING_FORMAT = 1
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
PUBLIC_FILE_MODE = 0o644
FIRST_GENERATION = 1

FileStamp = tuple[int, int, int] | None
"""A file's (or folder's) inode, size and modification time in ns; None when absent."""


def file_stamp(path: Path) -> FileStamp:
    """The stamp that tells a key file (or folder) changed since it was read."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_ino, status.st_size, status.st_mtime_ns)


_RAW = serialization.Encoding.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw

PrivateKey = Ed25519PrivateKey | X25519PrivateKey


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _parse_timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError("the key ring holds a timestamp that is not a string.")
    return datetime.fromisoformat(value)


def _info_to_json(info: KeyInfo) -> dict[str, Any]:
    return {
        "party": info.party.value,
        "use": info.use.value,
        "key_id": info.key_id,
        "generation": info.generation,
        "status": info.status.value,
        "created_at": _timestamp(info.created_at),
        "grace_until": _timestamp(info.grace_until),
        "revoked_at": _timestamp(info.revoked_at),
        "public_key": base64.b64encode(info.public_key).decode("ascii"),
    }


def _info_from_json(entry: dict[str, Any]) -> KeyInfo:
    created_at = _parse_timestamp(entry["created_at"])
    if created_at is None:
        raise ConfigurationError("the key ring holds a key without a creation time.")
    public_key = base64.b64decode(entry["public_key"], validate=True)
    info = KeyInfo(
        party=Party(entry["party"]),
        use=KeyUse(entry["use"]),
        key_id=str(entry["key_id"]),
        generation=int(entry["generation"]),
        status=KeyStatus(entry["status"]),
        created_at=created_at,
        public_key=public_key,
        grace_until=_parse_timestamp(entry.get("grace_until")),
        revoked_at=_parse_timestamp(entry.get("revoked_at")),
    )
    if key_id_of(public_key) != info.key_id:
        raise ConfigurationError(f"key {info.key_id} in the key ring does not match its key id.")
    return info


def _read_ring(directory: Path) -> list[KeyInfo]:
    return _read_ring_file(directory / RING_FILE)


def _read_ring_file(path: Path) -> list[KeyInfo]:
    try:
        if not path.exists():
            return []
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"the key ring {path} is not readable.") from exc
    try:
        document = json.loads(content.decode("utf-8"))
        if document["format"] != RING_FORMAT:
            raise ConfigurationError(
                f"the key ring {path} is in a format this version does not read "
                f"(format {document['format']!s:.10}, not {RING_FORMAT})."
            )
        return [_info_from_json(entry) for entry in document["keys"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"the key ring {path} is not a key ring (it is damaged or another kind of file)."
        ) from exc


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_key_file(path, data, mode, exclusive=False)


def _write_ring(directory: Path, keys: Iterable[KeyInfo]) -> None:
    document = {"format": RING_FORMAT, "keys": [_info_to_json(info) for info in keys]}
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    _write_atomic(directory / RING_FILE, text.encode("utf-8"), PUBLIC_FILE_MODE)


def _private_dir(directory: Path, party: Party) -> Path:
    path = directory / PRIVATE_DIR / party.value
    path.mkdir(parents=True, exist_ok=True)
    (directory / PRIVATE_DIR).chmod(PRIVATE_DIR_MODE)
    path.chmod(PRIVATE_DIR_MODE)
    return path


def _write_private_key(directory: Path, party: Party, info: KeyInfo, key: PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _private_dir(directory, party)
    _write_atomic(private_key_path(directory, info), pem, PRIVATE_FILE_MODE)


def private_key_path(directory: Path, info: KeyInfo) -> Path:
    """Where a key directory keeps the private half of the key `info` describes."""
    return directory / PRIVATE_DIR / info.party.value / f"{info.use.value}-{info.key_id}.pem"


def _new_key_pair(
    directory: Path, party: Party, generation: int, now: datetime, written: list[KeyInfo]
) -> None:
    """Write a new signing and encryption key's private files, adding each to `written`."""
    signing = Ed25519PrivateKey.generate()
    encryption = X25519PrivateKey.generate()
    for use, key in ((KeyUse.SIGN, signing), (KeyUse.ENCRYPT, encryption)):
        public = key.public_key().public_bytes(_RAW, _RAW_PUBLIC)
        info = KeyInfo(party, use, key_id_of(public), generation, KeyStatus.ACTIVE, now, public)
        _write_private_key(directory, party, info, key)
        written.append(info)


@contextlib.contextmanager
def _removed_unless_listed(directory: Path) -> Iterator[list[KeyInfo]]:
    """A list for the keys written; if the ring listing them is not written, their files go.

    A private key the ring does not list is never used, rotated or revoked: left
    behind by a failed `generate` or `rotate` (a full disk, say), it would be a
    secret no one looks after.
    """
    written: list[KeyInfo] = []
    try:
        yield written
    except BaseException:
        for info in written:
            with contextlib.suppress(OSError):  # the first failure is the one to report
                private_key_path(directory, info).unlink(missing_ok=True)
        raise


def _write_data_key(directory: Path) -> None:
    path = _private_dir(directory, Party.HUB) / DATA_KEY_FILE
    with contextlib.suppress(FileExistsError):  # made already, perhaps by a racing process
        create_data_key_file(path)


def generate_party(
    directory: Path, party: Party, *, now: datetime | None = None, if_missing: bool = False
) -> list[KeyInfo]:
    """Create a party's first signing and encryption keys (and the hub's data key).

    A party that has keys already is refused, or with `if_missing` left as it
    is (nothing is made, the list is empty).
    """
    with _ring_lock(directory):
        return _generate_party(directory, Party(party), now or _utc_now(), if_missing)


def _generate_party(
    directory: Path, party: Party, moment: datetime, if_missing: bool
) -> list[KeyInfo]:
    ring = _read_ring(directory)
    if any(info.party is party for info in ring):
        if not if_missing:
            raise KeyError_(f"{party} already has keys; use rotate to replace them.")
        _refuse_half_made(directory, party, ring)
        return []
    with _removed_unless_listed(directory) as created:
        _new_key_pair(directory, party, FIRST_GENERATION, moment, created)
        if party is Party.HUB:
            _write_data_key(directory)
        _write_ring(directory, [*ring, *created])
    return created


def _refuse_half_made(directory: Path, party: Party, ring: list[KeyInfo]) -> None:
    """Refuse a party the ring lists whose active private keys (or the data key) are not here.

    Making new keys would hide the loss: what was sealed to, or encrypted
    under, the missing keys could never be opened again. A party with no
    private folder here had its public keys imported: they are whole.
    """
    if not (directory / PRIVATE_DIR / party.value).is_dir():
        return
    active = [info for info in ring if info.party is party and info.status is KeyStatus.ACTIVE]
    missing = [
        info for info in active if not _private_key_file_exists(private_key_path(directory, info))
    ]
    if missing:
        raise KeyError_(
            f"{party} is in the key ring but {len(missing)} of its active private key files "
            "are missing; restore them from a backup, or rotate to make new keys."
        )
    if party is Party.HUB and not data_key_path(directory).is_file():
        raise KeyError_(
            "hub is in the key ring but its data key is missing; restore it from a backup "
            "(a ledger encrypted under it cannot be read with a new one)."
        )


def rotate(
    directory: Path, party: Party, grace: timedelta, *, now: datetime | None = None
) -> list[KeyInfo]:
    """Make new primary keys for a party; its active keys become decrypt-only for `grace`."""
    with _ring_lock(directory):
        return _rotate(directory, Party(party), grace, now or _utc_now())


def _rotate(directory: Path, party: Party, grace: timedelta, moment: datetime) -> list[KeyInfo]:
    ring = _read_ring(directory)
    own = [info for info in ring if info.party is party]
    if not own:
        raise KeyError_(f"{party} has no keys yet; use generate first.")
    grace_until = moment + grace
    demoted = [
        _with_status(info, KeyStatus.DECRYPT_ONLY, grace_until=grace_until)
        if info.party is party and info.status is KeyStatus.ACTIVE
        else info
        for info in ring
    ]
    generation = max(info.generation for info in own) + 1
    with _removed_unless_listed(directory) as created:
        _new_key_pair(directory, party, generation, moment, created)
        _write_ring(directory, [*demoted, *created])
    return created


def revoke(
    directory: Path, party: Party, key_id: str, *, now: datetime | None = None
) -> list[KeyInfo]:
    """Revoke a key and its sibling of the same generation; they are never accepted again."""
    with _ring_lock(directory):
        return _revoke(directory, Party(party), key_id, now or _utc_now())


def _revoke(directory: Path, party: Party, key_id: str, moment: datetime) -> list[KeyInfo]:
    ring = _read_ring(directory)
    target = next((info for info in ring if info.key_id == key_id), None)
    if target is None or target.party is not party:
        raise KeyError_(f"key {key_id} is not a key of {party}.")
    updated = [
        _with_status(info, KeyStatus.REVOKED, revoked_at=moment)
        if _same_generation(info, target) and info.status is not KeyStatus.REVOKED
        else info
        for info in ring
    ]
    _write_ring(directory, updated)
    return [info for info in updated if _same_generation(info, target)]


def _same_generation(info: KeyInfo, target: KeyInfo) -> bool:
    return info.party is target.party and info.generation == target.generation


def _with_status(
    info: KeyInfo,
    status: KeyStatus,
    *,
    grace_until: datetime | None = None,
    revoked_at: datetime | None = None,
) -> KeyInfo:
    return KeyInfo(
        party=info.party,
        use=info.use,
        key_id=info.key_id,
        generation=info.generation,
        status=status,
        created_at=info.created_at,
        public_key=info.public_key,
        grace_until=grace_until if grace_until is not None else info.grace_until,
        revoked_at=revoked_at if revoked_at is not None else info.revoked_at,
    )


# A key's status only ever moves forward along this order.
_STATUS_ORDER = {KeyStatus.ACTIVE: 0, KeyStatus.DECRYPT_ONLY: 1, KeyStatus.REVOKED: 2}


def import_party(directory: Path, party: Party, published: Path) -> list[KeyInfo]:
    """Take `party`'s public keys from a ring it published; the keys added or moved on.

    Only `party`'s own entries are read: a published ring cannot change what
    this ring holds of any other party. A party whose private keys are in this
    directory is refused (its keys are made here). A key already held keeps its
    public key, and its status only moves forward (active, decrypt-only,
    revoked), so an older copy never undoes a rotation or a revocation. A key
    id held with another public key, or for another party or use, is refused.
    """
    party = Party(party)
    if party in private_parties(directory):
        raise KeyError_(f"{party}'s keys are made in this key directory; they are not imported.")
    theirs = [info for info in _read_ring_file(published) if info.party is party]
    if not theirs:
        raise KeyError_(f"the key ring {published.name} holds no keys of {party}.")
    with _ring_lock(directory):
        ring = _read_ring(directory)
        merged, changed = _merged(ring, theirs)
        if changed:
            _write_ring(directory, merged)
    return changed


def _merged(ring: list[KeyInfo], theirs: list[KeyInfo]) -> tuple[list[KeyInfo], list[KeyInfo]]:
    """The ring with `theirs` taken in (see `import_party`), and the keys that changed."""
    held = {info.key_id: position for position, info in enumerate(ring)}
    merged = list(ring)
    changed = []
    for info in theirs:
        position = held.get(info.key_id)
        if position is None:
            merged.append(info)
            changed.append(info)
            continue
        mine = merged[position]
        if (mine.party, mine.use, mine.public_key) != (info.party, info.use, info.public_key):
            raise KeyError_(
                f"key {info.key_id} in the published ring is not the key this ring holds."
            )
        if _STATUS_ORDER[info.status] > _STATUS_ORDER[mine.status]:
            merged[position] = _with_status(
                mine, info.status, grace_until=info.grace_until, revoked_at=info.revoked_at
            )
            changed.append(merged[position])
    return merged, changed


@contextlib.contextmanager
def _ring_lock(directory: Path) -> Iterator[None]:
    """Hold the key directory's ring lock: one read-modify-write of `ring.json` at a time."""
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(directory / RING_LOCK_FILE, os.O_RDWR | os.O_CREAT, PUBLIC_FILE_MODE)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def list_keys(directory: Path) -> list[KeyInfo]:
    """Every key in the public ring, in the order they were made."""
    return _read_ring(directory)


def private_parties(directory: Path) -> list[Party]:
    """The parties whose private keys this directory holds."""
    root = directory / PRIVATE_DIR
    return [party for party in Party if any((root / party.value).glob("*.pem"))]


def _private_key_file_exists(path: Path) -> bool:
    """Whether a private key file is there, or a refusal when its folder cannot be read."""
    try:
        return path.exists()
    except OSError as exc:
        raise ConfigurationError(
            f"the private keys in {path.parent} cannot be read (check the folder's permissions)."
        ) from exc


def _load_private(path: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"the private key file {path.name} is not readable.") from exc
    if not isinstance(key, Ed25519PrivateKey | X25519PrivateKey):
        raise ConfigurationError(f"the private key file {path.name} holds the wrong key type.")
    return key


def load_public_ring(directory: Path) -> KeyRing:
    """Every party's public keys and no private key: a relay's ring.

    It checks who sealed an envelope (`verify_outer`) and can neither open nor
    seal one; `me` is nominal (the hub's ring format names one).
    """
    ring = _read_ring(directory)
    if not ring:
        raise ConfigurationError(f"the key directory {directory} has no key ring.")
    return KeyRing(Party.HUB, tuple(ring))


def load_keyring(directory: Path, me: Party) -> KeyRing:
    """My private keys and every party's public keys, read once for this process."""
    me = Party(me)
    ring = _read_ring(directory)
    if not ring:
        raise ConfigurationError(f"the key directory {directory} has no key ring.")
    signing: dict[str, Ed25519PrivateKey] = {}
    encryption: dict[str, X25519PrivateKey] = {}
    for info in ring:
        path = private_key_path(directory, info)
        if info.party is not me or not _private_key_file_exists(path):
            continue
        key = _load_private(path)
        if key_id_of(key.public_key().public_bytes(_RAW, _RAW_PUBLIC)) != info.key_id:
            raise ConfigurationError(f"the private key file {path.name} does not match its id.")
        if isinstance(key, Ed25519PrivateKey):
            signing[info.key_id] = key
        else:
            encryption[info.key_id] = key
    if not signing and not encryption:
        raise ConfigurationError(
            f"the key directory {directory} holds no private keys of {me}: give {me}'s own "
            f"key directory (`arms-sync keys generate --party {me.value} --dir DIR` makes one)."
        )
    return KeyRing(me, tuple(ring), signing, encryption, frozenset(private_parties(directory)))


def load_data_key(directory: Path) -> DataKey:
    """The deployment's at-rest data key (separate AES-256-GCM and HMAC keys)."""
    path = data_key_path(directory)
    if not path.is_file():
        raise ConfigurationError(f"the data key in {directory} is missing or unreadable.")
    return read_data_key_file(path)


def data_key_path(directory: Path) -> Path:
    """Where a key directory keeps the deployment's at-rest data key."""
    return directory / PRIVATE_DIR / Party.HUB.value / DATA_KEY_FILE
