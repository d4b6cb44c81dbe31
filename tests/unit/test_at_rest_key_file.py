"""The at-rest key file: made once with mode 0600, never replaced, read back as it was."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from sync.crypto.at_rest import FieldCipher
from sync.crypto.key_file import create_data_key_file, read_data_key_file
from sync.errors import ConfigurationError


def test_a_key_file_is_made_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db.key"
    made = create_data_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    read = read_data_key_file(path)
    blob = FieldCipher(made).encrypt("r1", b"Smith")
    assert FieldCipher(read).decrypt("r1", blob) == b"Smith"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_existing_key_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db.key"
    create_data_key_file(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        create_data_key_file(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_missing_key_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        read_data_key_file(tmp_path / "ledger.db.key")
    assert str(refused.value) == "The at-rest key file ledger.db.key is missing or unreadable."


@pytest.mark.parametrize(
    "content", [b"", b"{}", b'{"aead_key": "!", "mac_key": "!"}', b"\xff\xfe", b"[1]"]
)
def test_a_key_file_holding_no_key_is_one_sentence_saying_so(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "ledger.db.key"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError) as refused:
        read_data_key_file(path)
    assert str(refused.value) == (
        "The at-rest key file ledger.db.key holds no at-rest key (it is empty, damaged or "
        "another kind of file); restore it from its backup."
    )
