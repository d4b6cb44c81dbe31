"""Subject ids: a keyed hash of the smallest record reference, the same run after run,
always keyed with the deployment's data key (never a public constant)."""

from __future__ import annotations

from pathlib import Path

from sync.app import App
from sync.core.records import Agency, RecordRef
from sync.crypto.at_rest import FieldCipher
from sync.crypto.key_file import read_data_key_file
from sync.crypto.keyring import generate_party, load_data_key
from sync.crypto.keys import Party
from sync.settings import load_settings

REF = RecordRef(Agency.PROBATION, "X000001")
# What HMAC-SHA256 under the public constant "arms-sync/subject-id/v1" made of REF,
# attempt 0: the id any reader could compute from a CRN before ids were always keyed.
PUBLIC_CONSTANT_ID = "SDE05A18B8C85C81A"


def test_without_a_key_directory_ids_are_keyed_with_the_ledgers_own_key(tmp_path: Path) -> None:
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    app = App(settings)
    try:
        minted = app.mint_subject_id(REF, 0)
    finally:
        app.close()
    key = read_data_key_file(tmp_path / "ledger.db.key")
    pseudonym = FieldCipher(key).pseudonym("subject", "probation:X000001:0")
    assert minted == "S" + pseudonym[:16].upper()
    assert minted != PUBLIC_CONSTANT_ID


def test_keyed_ids_are_the_data_key_pseudonym_of_reference_and_attempt(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    generate_party(keys, Party.HUB)
    settings = load_settings(
        None, database_url=f"sqlite:///{tmp_path / 'ledger.db'}", keys_dir=keys
    )
    pseudonym = FieldCipher(load_data_key(keys)).pseudonym("subject", "probation:X000001:2")
    assert App(settings).mint_subject_id(REF, 2) == "S" + pseudonym[:16].upper()
