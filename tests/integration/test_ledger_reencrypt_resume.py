"""Finishing an interrupted re-encryption, and what a re-encryption records and refuses.

A re-encryption cut short (once or twice) leaves every value under exactly
one of the two keys on disk; running it again rewrites only the values still
under the old key (none twice, none lost), plaintext of a ledger that held
some included, and its audit entry says it finished an interrupted one.
Finishing refuses a key file that no longer holds the ledger's key from
before, and plaintext in a ledger that never held any. A fresh rotation
refuses while the key kept by the last one is there, refuses a `.new` that
is not a next key (and uses one that is), is not blocked by a run whose
process died, and records the operator named on the command.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from sync.audit.log import audit_log_for
from sync.crypto.at_rest import BLOB_FORMAT, DataKey, FieldCipher, new_data_key, rotated_data_key
from sync.crypto.key_file import read_data_key_file, write_new_data_key_file
from sync.cycle import run_cycle
from sync.errors import ConfigurationError, CryptoError, LedgerError
from sync.ledger import schema
from sync.ledger.codec import TEXT_PREFIX
from sync.ledger.runs import RUN_INTERRUPTED
from sync.reconcile.acts import Actor
from sync.reconcile.links import unlink
from sync.reencryption import reencrypt_ledger
from tests.integration.test_ledger_reencrypt import (
    AS_OF,
    POLICE_ONE,
    PROBATION_ONE,
    SMALL_BATCH,
    _assert_under,
    _cipher,
    _crash_after_batches,
    _crash_before_finish,
    _legacy_ledger,
    _opened,
    _opens,
    _reads,
    _sources,
    _stored,
)

pytestmark = pytest.mark.integration
REVIEWER = Actor("REVIEW", "SAMPLE reason for unlinking")
CRASH_AFTER = 3  # batches committed before the first attempt stops
ENCRYPTED = {  # every encrypted column of the ledger, as docs/crypto.md lists them
    "records.payload",
    "rejects.raw",
    "cycle_staging.payload",
    "outbox.sealed_batch",
    "manual_links.reason",
    "overrides.reason",
    "overrides.revoke_reason",
    "flag_acts.reason",
    "review_items.reason",
}
RESUME_BATCH = 4  # finishing pages differently, so a batch holds rows of both keys


def _ledger_with_reasons(ledger_url: str, key_file: Path, folder: Path) -> list[str]:
    """A ledger after one run and one unlink; what a user reads of it."""
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        run_cycle(app, _sources(folder), AS_OF)
        unlink(app, PROBATION_ONE, POLICE_ONE, REVIEWER, apply=True)
        return _reads(app)


def _interrupted(ledger_url: str, key_file: Path, batches: int = CRASH_AFTER) -> None:
    """A re-encryption that stops once `batches` batches are committed."""
    with pytest.MonkeyPatch.context() as patch:
        _crash_after_batches(patch, batches)
        with (
            _opened(ledger_url, at_rest_key_file=key_file) as failing,
            pytest.raises(OSError, match="went away"),
        ):
            reencrypt_ledger(failing, batch_size=SMALL_BATCH)


def _stored_values(ledger_url: str) -> list[tuple[str, str, Any]]:
    """Every encrypted value the ledger stores: table, place and value."""
    with _opened(ledger_url) as app:
        return _stored(app.engine)


def _split(ledger_url: str, old: FieldCipher, new: FieldCipher) -> tuple[int, int, int]:
    """How many stored values open with the old key, with the new key, and in all."""
    stored = _stored_values(ledger_url)
    under_old = sum(_opens(old, place, value) for _, place, value in stored)
    under_new = sum(_opens(new, place, value) for _, place, value in stored)
    return under_old, under_new, len(stored)


def _plaintext_count(ledger_url: str) -> int:
    return sum(
        not (
            value.startswith(TEXT_PREFIX)
            if isinstance(value, str)
            else bytes(value)[:1] == BLOB_FORMAT
        )
        for _, _, value in _stored_values(ledger_url)
    )


def test_finishing_an_interrupted_reencryption_rewrites_only_what_was_left(
    ledger_url: str, tmp_path: Path
) -> None:
    """Each value is rewritten once over both attempts, and the second says it finished."""
    key_file = tmp_path / "ledger.key"
    before = _ledger_with_reasons(ledger_url, key_file, tmp_path)
    old = _cipher(key_file)
    _interrupted(ledger_url, key_file)
    new = _cipher(key_file.with_name("ledger.key.new"))
    under_old, under_new, total = _split(ledger_url, old, new)
    assert under_new == CRASH_AFTER * SMALL_BATCH
    assert under_old + under_new == total  # every value opens with exactly one key

    progress: list[tuple[str, int]] = []
    with _opened(ledger_url, at_rest_key_file=key_file) as again:
        outcome = reencrypt_ledger(
            again,
            batch_size=RESUME_BATCH,
            progress=lambda column, batches: progress.append((column, batches)),
        )

    assert outcome.resumed
    assert outcome.rewritten.total == under_old
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before
        _assert_under(after.engine, new, old)
        last = list(audit_log_for(after.engine).entries())[-1]
    detail = last.detail or ""
    assert detail.endswith(
        "; an interrupted re-encryption finished (the counts are of what was left to do)"
    )
    for table, count in outcome.rewritten.by_table.items():
        assert f"{table} {count:,}" in detail
    columns = list(dict.fromkeys(column for column, _ in progress))
    assert set(columns) == ENCRYPTED
    for column in columns:
        batches = [number for name, number in progress if name == column]
        assert batches == list(range(1, len(batches) + 1))
    payloads = sum(table == "records" for table, _, _ in _stored_values(ledger_url))
    record_batches = [number for name, number in progress if name == "records.payload"]
    assert len(record_batches) == payloads // RESUME_BATCH + 1  # paged by key, each row once


def test_an_interrupted_reencryption_of_a_ledger_holding_plaintext_is_finished(
    ledger_url: str, tmp_path: Path
) -> None:
    """Plaintext not reached before the interruption is still encrypted when it is finished."""
    _legacy_ledger(ledger_url, tmp_path)
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as upgraded:
        before = _reads(upgraded)
    plaintext = _plaintext_count(ledger_url)
    old = _cipher(key_file)
    _interrupted(ledger_url, key_file)
    left = _plaintext_count(ledger_url)
    assert 0 < left < plaintext

    with _opened(ledger_url, at_rest_key_file=key_file) as again:
        outcome = reencrypt_ledger(again, batch_size=SMALL_BATCH)

    assert outcome.resumed
    assert outcome.rewritten.plaintext == left
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before
        _assert_under(after.engine, _cipher(key_file), old)
        assert after.codec.legacy_plaintext is False
        last = list(audit_log_for(after.engine).entries())[-1]
    assert f"; {left:,} were plaintext; " in (last.detail or "")


def test_a_second_rotation_is_refused_while_the_kept_key_is_there(
    ledger_url: str, tmp_path: Path
) -> None:
    """The key kept as `.old` is never overwritten: the next rotation refuses, changing nothing."""
    key_file = tmp_path / "ledger.key"
    before = _ledger_with_reasons(ledger_url, key_file, tmp_path)
    with _opened(ledger_url, at_rest_key_file=key_file) as first:
        outcome = reencrypt_ledger(first)
    kept = outcome.previous_key_file.read_bytes()
    current = key_file.read_bytes()

    with (
        _opened(ledger_url, at_rest_key_file=key_file) as second,
        pytest.raises(ConfigurationError, match=r"ledger\.key\.old from an earlier"),
    ):
        reencrypt_ledger(second)

    assert outcome.previous_key_file.read_bytes() == kept
    assert key_file.read_bytes() == current
    assert sorted(p.name for p in tmp_path.glob("ledger.key*")) == ["ledger.key", "ledger.key.old"]
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before


def test_the_operator_named_for_the_reencryption_is_the_one_recorded(
    ledger_url: str, tmp_path: Path
) -> None:
    """An operator given to the command wins over the configured one in the audit entry."""
    key_file = tmp_path / "ledger.key"
    _ledger_with_reasons(ledger_url, key_file, tmp_path)
    with _opened(ledger_url, at_rest_key_file=key_file, operator="SAMPLE") as app:
        reencrypt_ledger(app, operator="REVIEW")
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        last = list(audit_log_for(after.engine).entries())[-1]
    assert (last.kind, last.actor) == ("alteration", "operator:REVIEW")
    assert "interrupted" not in (last.detail or "")


def test_a_next_key_file_that_does_not_follow_the_key_is_refused(
    ledger_url: str, tmp_path: Path
) -> None:
    """A stray `.new` with another MAC key is refused before anything changes."""
    key_file = tmp_path / "ledger.key"
    before = _ledger_with_reasons(ledger_url, key_file, tmp_path)
    stray = key_file.with_name("ledger.key.new")
    write_new_data_key_file(stray, new_data_key())
    stored = _stored_values(ledger_url)
    with (
        _opened(ledger_url, at_rest_key_file=key_file) as app,
        pytest.raises(ConfigurationError, match=r"ledger\.key\.new does not hold a next key"),
    ):
        reencrypt_ledger(app)
    assert _stored_values(ledger_url) == stored
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before  # not marked: the ledger still opens with its key


def test_a_next_key_left_before_the_ledger_was_marked_is_used(
    ledger_url: str, tmp_path: Path
) -> None:
    """A `.new` holding a next key of the ledger's key becomes the key file."""
    key_file = tmp_path / "ledger.key"
    before = _ledger_with_reasons(ledger_url, key_file, tmp_path)
    old_key = read_data_key_file(key_file)
    left = write_new_data_key_file(key_file.with_name("ledger.key.new"), rotated_data_key(old_key))
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        outcome = reencrypt_ledger(app)
    assert not outcome.resumed
    assert read_data_key_file(key_file) == left
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before
        _assert_under(after.engine, FieldCipher(left), FieldCipher(old_key))


def test_a_reencryption_interrupted_twice_is_still_finished(
    ledger_url: str, tmp_path: Path
) -> None:
    """Finishing can itself be cut short: each attempt goes on from where the last stopped."""
    key_file = tmp_path / "ledger.key"
    before = _ledger_with_reasons(ledger_url, key_file, tmp_path)
    old = _cipher(key_file)
    _interrupted(ledger_url, key_file)
    new_key = read_data_key_file(key_file.with_name("ledger.key.new"))
    new = FieldCipher(new_key)
    _, first, _ = _split(ledger_url, old, new)
    _interrupted(ledger_url, key_file, 2 * CRASH_AFTER)  # past the rows already rewritten
    assert read_data_key_file(key_file.with_name("ledger.key.new")) == new_key
    under_old, under_new, total = _split(ledger_url, old, new)
    assert first < under_new
    assert under_old + under_new == total

    with _opened(ledger_url, at_rest_key_file=key_file) as again:
        outcome = reencrypt_ledger(again, batch_size=SMALL_BATCH)
    assert outcome.resumed
    assert outcome.rewritten.total == under_old
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before
        _assert_under(after.engine, new, old)


def _wrong_mac(key: DataKey) -> DataKey:
    return DataKey(aead_key=key.aead_key, mac_key=new_data_key().mac_key)


@pytest.mark.parametrize(
    "substitute",
    [rotated_data_key, _wrong_mac],
    ids=["another-encryption-key", "another-mac-key"],
)
def test_finishing_with_another_key_in_the_key_file_is_refused_until_it_is_restored(
    ledger_url: str, tmp_path: Path, substitute: Callable[[DataKey], DataKey]
) -> None:
    """Resuming checks the key file still holds the ledger's key from before, naming the file."""
    key_file = tmp_path / "ledger.key"
    before = _ledger_with_reasons(ledger_url, key_file, tmp_path)
    _interrupted(ledger_url, key_file)
    original = key_file.read_bytes()
    substituted = substitute(read_data_key_file(key_file))
    key_file.unlink()
    write_new_data_key_file(key_file, substituted)
    stored = _stored_values(ledger_url)

    with (
        _opened(ledger_url, at_rest_key_file=key_file) as refused,
        pytest.raises(ConfigurationError, match=r"^The at-rest key file ledger\.key does not"),
    ):
        reencrypt_ledger(refused, batch_size=SMALL_BATCH)
    assert _stored_values(ledger_url) == stored

    key_file.write_bytes(original)
    with _opened(ledger_url, at_rest_key_file=key_file) as again:
        assert reencrypt_ledger(again, batch_size=SMALL_BATCH).resumed
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before


def test_a_run_whose_process_died_is_recorded_as_interrupted_and_does_not_block(
    ledger_url: str, tmp_path: Path
) -> None:
    """Only a run still alive makes it refuse; a dead one is marked interrupted first."""
    key_file = tmp_path / "ledger.key"
    before = _ledger_with_reasons(ledger_url, key_file, tmp_path)
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        run_id = app.ledger.start_run(AS_OF, datetime(2026, 11, 28, 9, tzinfo=UTC))
        app.ledger.release_run(run_id)  # its process is gone, the row still says running

    with _opened(ledger_url, at_rest_key_file=key_file) as rotating:
        reencrypt_ledger(rotating)
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before
        runs = schema.runs
        with after.engine.connect() as conn:
            status = conn.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar_one()
    assert status == RUN_INTERRUPTED


def test_finishing_refuses_plaintext_in_a_ledger_that_never_held_any(
    ledger_url: str, tmp_path: Path
) -> None:
    """Plaintext met while finishing a ledger encrypted from the start is refused, not sealed."""
    key_file = tmp_path / "ledger.key"
    _ledger_with_reasons(ledger_url, key_file, tmp_path)
    _interrupted(ledger_url, key_file)
    records = schema.records
    with _opened(ledger_url) as app, app.engine.begin() as conn:
        last = conn.execute(
            select(records.c.agency, records.c.rtype, records.c.rid)
            .where(records.c.payload.is_not(None))
            .order_by(records.c.agency.desc(), records.c.rtype.desc(), records.c.rid.desc())
            .limit(1)
        ).one()
        conn.execute(
            update(records)
            .where(
                records.c.agency == last.agency,
                records.c.rtype == last.rtype,
                records.c.rid == last.rid,
            )
            .values(payload=b'{"note": "SAMPLE"}')
        )

    with (
        _opened(ledger_url, at_rest_key_file=key_file) as again,
        pytest.raises(CryptoError, match="opens with neither the old nor the new"),
    ):
        reencrypt_ledger(again, batch_size=SMALL_BATCH)
    with (
        _opened(ledger_url, at_rest_key_file=key_file) as still,
        pytest.raises(LedgerError, match="being re-encrypted"),
    ):
        _ = still.ledger


def test_finishing_without_the_new_key_on_disk_asks_for_it_back(
    ledger_url: str, tmp_path: Path
) -> None:
    """Once switched, a key file put back to the old key is refused until the new one is back."""
    key_file = tmp_path / "ledger.key"
    before = _ledger_with_reasons(ledger_url, key_file, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        _crash_before_finish(patch)
        with (
            _opened(ledger_url, at_rest_key_file=key_file) as failing,
            pytest.raises(OSError, match="went away"),
        ):
            reencrypt_ledger(failing)
    new_key = key_file.read_bytes()
    key_file.write_bytes(key_file.with_name("ledger.key.old").read_bytes())

    with (
        _opened(ledger_url, at_rest_key_file=key_file) as refused,
        pytest.raises(ConfigurationError, match=r"is in neither ledger\.key nor ledger\.key\.new"),
    ):
        reencrypt_ledger(refused)

    key_file.write_bytes(new_key)
    with _opened(ledger_url, at_rest_key_file=key_file) as again:
        assert reencrypt_ledger(again).resumed
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before
