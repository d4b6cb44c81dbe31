"""The at-rest data key in a file of its own: read it, or make it exactly once.

The file is JSON, `{"format": 1, "aead_key": base64, "mac_key": base64}`, the
same as `private/hub/data.key` in a key directory. `create_data_key_file` writes
a new key whole (`whole_files`), only if the file does not exist yet: two
processes racing to make the key never overwrite each other.

Rotating the key (`arms-sync ledger reencrypt`) writes the next key beside the
current one (`<name>.new`, written the same way), and `switch_data_key_files`
then keeps the current key as `<name>.old` (a hard link) and renames the next
key into place: at every moment the key file's name holds a whole key.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from sync.crypto.at_rest import DataKey, new_data_key
from sync.crypto.whole_files import write_key_file
from sync.errors import ConfigurationError

KEY_FILE_FORMAT = 1
KEY_FILE_MODE = 0o600
NEXT_SUFFIX = ".new"
PREVIOUS_SUFFIX = ".old"


def data_key_document(key: DataKey) -> bytes:
    """The file content of a data key."""
    document = {
        "format": KEY_FILE_FORMAT,
        "aead_key": base64.b64encode(key.aead_key).decode("ascii"),
        "mac_key": base64.b64encode(key.mac_key).decode("ascii"),
    }
    return json.dumps(document).encode("utf-8")


def read_data_key_file(path: Path) -> DataKey:
    """The data key in `path`; a file missing, unreadable or holding no key is a
    configuration error, each in its own sentence."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        message = f"The at-rest key file {path.name} is missing or unreadable."
        raise ConfigurationError(message) from exc
    try:
        document = json.loads(content.decode("utf-8"))
        aead_key = base64.b64decode(document["aead_key"], validate=True)
        mac_key = base64.b64decode(document["mac_key"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        message = (
            f"The at-rest key file {path.name} holds no at-rest key "
            "(it is empty, damaged or another kind of file); restore it from its backup."
        )
        raise ConfigurationError(message) from exc
    return DataKey(aead_key=aead_key, mac_key=mac_key)


def create_data_key_file(path: Path) -> DataKey:
    """Make a new data key in `path` (mode 0600); `FileExistsError` if the file exists."""
    return write_new_data_key_file(path, new_data_key())


def write_new_data_key_file(path: Path, key: DataKey) -> DataKey:
    """Write `key` to the new file `path` (mode 0600); `FileExistsError` if the file exists."""
    write_key_file(path, data_key_document(key), KEY_FILE_MODE, exclusive=True)
    return key


def next_key_path(path: Path) -> Path:
    """Where a rotation writes the next key before it takes the key file's name."""
    return path.with_name(path.name + NEXT_SUFFIX)


def previous_key_path(path: Path) -> Path:
    """Where a rotation keeps the key it replaced, until the operator removes it."""
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def switch_data_key_files(path: Path) -> None:
    """Keep the current key as `<name>.old`, then rename `<name>.new` into `path`.

    Each step can be repeated after a crash: the link is made only if
    `<name>.old` is missing, and the rename is atomic.
    """
    previous, following = previous_key_path(path), next_key_path(path)
    if not previous.exists():
        os.link(path, previous)
    following.replace(path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
