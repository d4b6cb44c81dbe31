"""A ledger bound to its at-rest key when opened, on both databases, with real keys.

A missing key file is never replaced by a new key while the ledger holds
encrypted data; a ledger from before the key checks existed is bound only to
a key that opens its records, and a ledger bound before the encryption check
existed gets that check from its own key, never from another; plaintext
reasons written before encryption was always on still read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from sync.crypto.at_rest import rotated_data_key
from sync.crypto.key_file import create_data_key_file, read_data_key_file, write_new_data_key_file
from sync.cycle import run_cycle
from sync.errors import ConfigurationError
from sync.ledger import schema
from sync.ledger.data_key import AEAD_CHECK, KEY_CHECK, LEGACY_PLAINTEXT, ledger_meta
from sync.ledger.tables_manual import manual_links
from sync.reconcile.acts import Actor
from sync.reconcile.links import unlink
from sync.reconcile.subject import subject_report
from tests.integration.test_ledger_reencrypt import (
    AS_OF,
    POLICE_ONE,
    PROBATION_ONE,
    _opened,
    _reads,
    _sources,
)

pytestmark = pytest.mark.integration
PLAIN_REASON = "SAMPLE reason typed before encryption"


def _ledger(ledger_url: str, key_file: Path, folder: Path) -> list[str]:
    """A ledger after one run and one unlink, bound to `key_file`; what a user reads of it."""
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        run_cycle(app, _sources(folder), AS_OF)
        unlink(app, PROBATION_ONE, POLICE_ONE, Actor("REVIEW", "SAMPLE"), apply=True)
        return _reads(app)


def _forget(ledger_url: str, *keys: str) -> None:
    """Take `keys` out of `ledger_meta`, as a version that did not record them left it."""
    with _opened(ledger_url) as app:
        table = schema.settings_kv
        with app.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.key.in_(keys)))


def _meta(ledger_url: str) -> dict[str, str]:
    with _opened(ledger_url) as app, app.engine.connect() as conn:
        return ledger_meta(conn)


def _refused_with(ledger_url: str, key_file: Path, match: str) -> None:
    refused = pytest.raises(ConfigurationError, match=match)
    with _opened(ledger_url, at_rest_key_file=key_file) as app, refused:
        _ = app.ledger


def _reads_with(ledger_url: str, key_file: Path) -> list[str]:
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        return _reads(app)


@pytest.mark.parametrize("checks", ["recorded", "from-before-key-checks"])
def test_a_missing_key_file_is_refused_and_no_new_key_is_made(
    ledger_url: str, tmp_path: Path, checks: str
) -> None:
    """Encrypted records, with a key check recorded or not, need the key that sealed them."""
    key_file = tmp_path / "ledger.key"
    before = _ledger(ledger_url, key_file, tmp_path)
    if checks == "from-before-key-checks":
        _forget(ledger_url, KEY_CHECK, AEAD_CHECK, LEGACY_PLAINTEXT)
    kept = tmp_path / "kept.key"
    key_file.rename(kept)

    _refused_with(ledger_url, key_file, "holds encrypted data but its at-rest key file")
    assert not key_file.exists()

    assert _reads_with(ledger_url, kept) == before


def test_a_ledger_from_before_key_checks_is_bound_only_to_a_key_that_opens_it(
    ledger_url: str, tmp_path: Path
) -> None:
    """Another key is refused and recorded nowhere; the ledger's own key then binds it."""
    key_file = tmp_path / "ledger.key"
    before = _ledger(ledger_url, key_file, tmp_path)
    _forget(ledger_url, KEY_CHECK, AEAD_CHECK, LEGACY_PLAINTEXT)
    other = tmp_path / "other.key"
    create_data_key_file(other)

    _refused_with(ledger_url, other, "another at-rest key")
    assert KEY_CHECK not in _meta(ledger_url)

    assert _reads_with(ledger_url, key_file) == before
    assert {KEY_CHECK, AEAD_CHECK} <= set(_meta(ledger_url))


def test_a_ledger_bound_before_the_encryption_check_gets_it_from_its_own_key(
    ledger_url: str, tmp_path: Path
) -> None:
    """The missing check is recorded on the next open; a key sharing only the MAC is refused."""
    key_file = tmp_path / "ledger.key"
    before = _ledger(ledger_url, key_file, tmp_path)
    _forget(ledger_url, AEAD_CHECK)

    assert _reads_with(ledger_url, key_file) == before
    assert AEAD_CHECK in _meta(ledger_url)

    stale = tmp_path / "rotated.key"
    write_new_data_key_file(stale, rotated_data_key(read_data_key_file(key_file)))
    _refused_with(ledger_url, stale, "another at-rest key")


def test_another_key_never_records_the_encryption_check(ledger_url: str, tmp_path: Path) -> None:
    """A ledger with a key check but no encryption check refuses another key, recording nothing."""
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as fresh:
        _ = fresh.ledger  # bound, holding nothing encrypted yet
    _forget(ledger_url, AEAD_CHECK)
    other = tmp_path / "other.key"
    create_data_key_file(other)

    _refused_with(ledger_url, other, "another at-rest key")
    assert AEAD_CHECK not in _meta(ledger_url)

    with _opened(ledger_url, at_rest_key_file=key_file) as own:
        _ = own.ledger


def test_reasons_typed_before_encryption_still_read(ledger_url: str, tmp_path: Path) -> None:
    """A ledger whose only plaintext is a reason is bound as holding plaintext, and reads it."""
    key_file = tmp_path / "ledger.key"
    _ledger(ledger_url, key_file, tmp_path)
    with _opened(ledger_url) as app, app.engine.begin() as conn:
        conn.execute(update(manual_links).values(reason=PLAIN_REASON))
    _forget(ledger_url, KEY_CHECK, AEAD_CHECK, LEGACY_PLAINTEXT)

    with _opened(ledger_url, at_rest_key_file=key_file) as upgraded:
        ledger = upgraded.ledger
        subject = ledger.load_membership()[("probation", "P100001")]
        reasons = [event.reason for event in subject_report(ledger, subject).history]
        with upgraded.engine.connect() as conn:
            legacy = conn.execute(
                select(schema.settings_kv.c.value).where(
                    schema.settings_kv.c.key == LEGACY_PLAINTEXT
                )
            ).scalar_one()
    assert reasons == [PLAIN_REASON]
    assert legacy == "1"


def test_a_bound_ledger_without_records_still_needs_its_key_file(
    ledger_url: str, tmp_path: Path
) -> None:
    """A recorded key check alone makes a missing key file an error, not a reason for a new key."""
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as fresh:
        _ = fresh.ledger  # bound, holding nothing encrypted yet
    kept = tmp_path / "kept.key"
    key_file.rename(kept)

    _refused_with(ledger_url, key_file, "holds encrypted data but its at-rest key file")
    assert not key_file.exists()
