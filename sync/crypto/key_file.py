"""The at-rest data key in a file of its own: read it, or make it exactly once.

The file is JSON, `{"format": 1, "aead_key": base64, "mac_key": base64}`, the
same as `private/hub/data.key` in a key directory. `create_data_key_file` writes
a new key to a temporary file (mode 0600 before any byte is written) and links
it into place, which fails if the file exists: two processes racing to make
the key never overwrite each other, and no one ever reads a half-written file.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

from sync.crypto.at_rest import DataKey, new_data_key
from sync.errors import ConfigurationError

KEY_FILE_FORMAT = 1
KEY_FILE_MODE = 0o600


def data_key_document(key: DataKey) -> bytes:
    """The file content of a data key."""
    document = {
        "format": KEY_FILE_FORMAT,
        "aead_key": base64.b64encode(key.aead_key).decode("ascii"),
        "mac_key": base64.b64encode(key.mac_key).decode("ascii"),
    }
    return json.dumps(document).encode("utf-8")


def read_data_key_file(path: Path) -> DataKey:
    """The data key in `path`; a missing or unreadable file is a configuration error."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        aead_key = base64.b64decode(document["aead_key"], validate=True)
        mac_key = base64.b64decode(document["mac_key"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        message = f"The at-rest key file {path.name} is missing or unreadable."
        raise ConfigurationError(message) from exc
    return DataKey(aead_key=aead_key, mac_key=mac_key)


def create_data_key_file(path: Path) -> DataKey:
    """Make a new data key in `path` (mode 0600); `FileExistsError` if the file exists."""
    key = new_data_key()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, KEY_FILE_MODE)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data_key_document(key))
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return key
