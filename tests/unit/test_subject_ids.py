"""Subject ids: a keyed hash of the smallest record reference, the same run after run."""

from __future__ import annotations

from pathlib import Path

from sync.app import SUBJECT_ID_NAMESPACE, App, hashed_subject_id
from sync.core.records import Agency, RecordRef
from sync.crypto.at_rest import FieldCipher
from sync.crypto.keyring import generate_party, load_data_key
from sync.crypto.keys import Party
from sync.settings import load_settings

REF = RecordRef(Agency.PROBATION, "X000001")


def test_unkeyed_ids_are_the_namespace_hash_of_reference_and_attempt() -> None:
    mint = hashed_subject_id(SUBJECT_ID_NAMESPACE)
    assert mint(REF, 0) == "SDE05A18B8C85C81A"
    assert mint(RecordRef(Agency.POLICE, "X000001"), 1) == "S4AD87033E4FC1A3D"


def test_keyed_ids_are_the_data_key_pseudonym_of_reference_and_attempt(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    generate_party(keys, Party.HUB)
    settings = load_settings(
        None, database_url=f"sqlite:///{tmp_path / 'ledger.db'}", keys_dir=keys
    )
    pseudonym = FieldCipher(load_data_key(keys)).pseudonym("subject", "probation:X000001:2")
    assert App(settings).mint_subject_id(REF, 2) == "S" + pseudonym[:16].upper()
