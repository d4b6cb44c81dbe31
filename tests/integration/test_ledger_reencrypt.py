"""Re-encrypting the ledger under a new at-rest key, on both databases, with real keys.

After it, every encrypted value opens with the new key and not with the old
one, nothing is left in plaintext, and everything read from the ledger
(exports, reasons, subject ids, pseudonyms) is as it was. An interrupted
re-encryption keeps the ledger closed to everyone else and is finished by
running it again; a run in flight makes it refuse.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from sync.app import App, subject_id_minter
from sync.audit.log import audit_log_for
from sync.core.decide import Review
from sync.core.records import Agency, Owner, RecordRef
from sync.crypto.at_rest import BLOB_FORMAT, FieldCipher, new_data_key
from sync.crypto.key_file import read_data_key_file
from sync.crypto.keyring import data_key_path, generate_party
from sync.crypto.keys import Party
from sync.cycle import run_cycle
from sync.distributed.store import put_staged
from sync.errors import ConfigurationError, CryptoError, LedgerError
from sync.exports import export_links, export_ownership, export_timeline
from sync.feeds.files import PlainFileSource
from sync.ledger import reencrypt as reencrypt_module
from sync.ledger import schema, tables_cycle
from sync.ledger.codec import TEXT_PREFIX, CipherCodec
from sync.ledger.reencrypt import TABLES, Rekey, iter_encrypted_values, reencrypt_rows
from sync.ledger.reviews import store_reviews
from sync.ledger.run_locks import hold_ledger_task_lock
from sync.ledger.store import record_key
from sync.reconcile.acts import Actor
from sync.reconcile.flags import resolve
from sync.reconcile.links import unlink
from sync.reconcile.overrides import AssignRequest, assign, revoke
from sync.reconcile.subject import subject_report
from sync.reencryption import REENCRYPT_TASK, reencrypt_ledger
from sync.settings import Settings
from tests.conftest import AT_REST_KEY_ENV
from tests.integration.test_audit_log import personal_data_in, write_feeds

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
SECRET_REASON = "JONES Simon born 1972-03-20"
ACTOR = Actor("jsmith", SECRET_REASON)
PUBLIC_NAMESPACE = b"arms-sync/subject-id/v1"  # how ids were minted without a key directory
PROBATION_ONE = RecordRef(Agency.PROBATION, "P100001")
POLICE_ONE = RecordRef(Agency.POLICE, "LAN-1")
SMALL_BATCH = 2
JUNK_LINE = b"{not json\n"


def _clock() -> datetime:
    return datetime(2026, 11, 28, 9, tzinfo=UTC)


def _sources(folder: Path) -> dict[str, PlainFileSource]:
    probation, police = write_feeds(folder)
    with probation.open("ab") as handle:
        handle.write(JUNK_LINE)  # one rejected line, kept in `rejects`
    return {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}


@pytest.fixture
def key_dir(ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key directory with every party's keys and the hub's data key, made by the test.

    The ledger's key is the key directory's: the session's key file is unset.
    """
    monkeypatch.delenv(AT_REST_KEY_ENV, raising=False)
    directory = tmp_path / "keys"
    for party in Party:
        generate_party(directory, party)
    return directory


def _open(ledger_url: str, **settings: Any) -> App:
    return App(Settings(database_url=ledger_url, **settings), clock=_clock)


@contextmanager
def _opened(ledger_url: str, **settings: Any) -> Iterator[App]:
    """The App of the ledger, closed when the block ends however it ends."""
    app = _open(ledger_url, **settings)
    try:
        yield app
    finally:
        app.close()


def _fill(app: App, folder: Path) -> None:
    """A run, and a value in every encrypted column: reasons, a review item, a staged part."""
    run_cycle(app, _sources(folder), AS_OF)
    with app.ledger.engine.connect() as conn:
        flag = conn.execute(select(schema.flags.c.key).limit(1)).scalar_one()
    resolve(app, flag, ACTOR)
    unlink(app, PROBATION_ONE, POLICE_ONE, ACTOR, apply=True)
    subject = app.ledger.load_membership()[("probation", "P100001")]
    request = AssignRequest(subject, Owner.POLICE, date(2025, 6, 1))
    override = assign(app, request, ACTOR, apply=True).act_id
    assert override is not None
    revoke(app, override, ACTOR, apply=True)
    review = Review(PROBATION_ONE, POLICE_ONE, 3.5, "names agree: surname=exact")
    with app.ledger.engine.begin() as conn:
        store_reviews(conn, app.ledger.codec, [review], _clock())
        put_staged(conn, app.ledger, 7, "result:0", {"note": SECRET_REASON})


def _reads(app: App) -> list[str]:
    """Everything a user reads of the ledger: exports, subject ids, pseudonyms, reasons."""
    ledger = app.ledger
    membership = sorted(f"{a}/{p}={s}" for (a, p), s in ledger.load_membership().items())
    records = schema.records
    with ledger.engine.connect() as conn:
        keys = conn.execute(
            select(records.c.rid, records.c.pnc_key, records.c.cro_key).order_by(records.c.rid)
        ).all()
    subject = ledger.load_membership()[("probation", "P100001")]
    history = [f"{e.act}:{e.reason}" for e in subject_report(ledger, subject).history]
    return [
        *export_links(ledger),
        *export_timeline(ledger),
        *export_ownership(ledger, AS_OF),
        *membership,
        *map(str, keys),
        *history,
    ]


def _opens(cipher: FieldCipher, associated_data: str, stored: Any) -> bool:
    try:
        if isinstance(stored, str):
            CipherCodec(cipher).decode_text(associated_data, stored)
        else:
            cipher.decrypt(associated_data, bytes(stored))
    except CryptoError:
        return False
    return True


def _stored(engine: Engine) -> list[tuple[str, str, Any]]:
    return list(iter_encrypted_values(engine))


def _assert_under(engine: Engine, new: FieldCipher, old: FieldCipher) -> None:
    """Every value opens with `new` and not with `old`, and none is in plaintext."""
    stored = _stored(engine)
    assert all(_opens(new, ad, value) for _, ad, value in stored)
    assert not any(_opens(old, ad, value) for _, ad, value in stored)
    for _, _, value in stored:
        if isinstance(value, str):
            assert value.startswith(TEXT_PREFIX)
        else:
            assert bytes(value)[:1] == BLOB_FORMAT


def _cipher(path: Path) -> FieldCipher:
    return FieldCipher(read_data_key_file(path))


def test_every_value_is_under_the_new_key_and_reads_the_same(
    ledger_url: str, tmp_path: Path, key_dir: Path
) -> None:
    with _opened(ledger_url, keys_dir=key_dir) as app:
        _fill(app, tmp_path)
        before = _reads(app)
        stored_before = _stored(app.engine)
    assert {table for table, _, _ in stored_before} == set(TABLES)
    key_file = data_key_path(key_dir)
    old_key = read_data_key_file(key_file)

    with _opened(ledger_url, keys_dir=key_dir) as rotating:
        outcome = reencrypt_ledger(rotating, operator="jsmith")

    new_key = read_data_key_file(key_file)
    assert new_key.mac_key == old_key.mac_key
    assert new_key.aead_key != old_key.aead_key
    assert read_data_key_file(outcome.previous_key_file).aead_key == old_key.aead_key
    assert outcome.rewritten.total == len(stored_before)
    assert all(outcome.rewritten.by_table[table] > 0 for table in TABLES)
    with _opened(ledger_url, keys_dir=key_dir) as after:
        assert _reads(after) == before
        _assert_under(after.engine, FieldCipher(new_key), FieldCipher(old_key))
        entries = list(audit_log_for(after.engine).entries())
        assert audit_log_for(after.engine).verify().ok
    last = entries[-1]
    assert (last.kind, last.actor, last.refs) == ("alteration", "operator:jsmith", "[]")
    assert "records" in (last.detail or "")
    assert personal_data_in(str(last.as_json())) == []
    assert "JONES" not in str(last.as_json())


def _ciphertext_samples(engine: Engine) -> set[bytes]:
    """A stretch of each stored value's ciphertext (past its format byte and nonce)."""
    samples = set()
    for _, _, value in _stored(engine):
        stored = value.encode("ascii") if isinstance(value, str) else bytes(value)
        samples.add(stored[16:48])
    return samples


TOAST_OF = "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = CAST(:t AS regclass)"


def _raw_storage(engine: Engine) -> bytes:
    """Every byte the database keeps of the ledger, dead row versions and free pages too.

    SQLite: the file and its write-ahead log. PostgreSQL: every page of each
    table holding encrypted values and of its TOAST table (`pageinspect`).
    """
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    pages: list[bytes] = []
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        for table in TABLES:
            toast = conn.execute(text(TOAST_OF), {"t": table}).scalar_one()
            pages += _pages(conn, table) + _pages(conn, toast)
    return b"".join(pages)


def _pages(conn: Connection, relation: str) -> list[bytes]:
    """Every page of a PostgreSQL relation, as stored."""
    size = "SELECT pg_relation_size(CAST(:r AS regclass)) / current_setting('block_size')::int"
    blocks = conn.execute(text(size), {"r": relation}).scalar_one()
    page = text("SELECT get_raw_page(:r, :n)")
    return [bytes(conn.execute(page, {"r": relation, "n": n}).scalar_one()) for n in range(blocks)]


def _old_values_in_storage(ledger_url: str, folder: Path, key_dir: Path) -> set[bytes]:
    """Fill the ledger; samples of its ciphertexts, each found in the database's storage."""
    with _opened(ledger_url, keys_dir=key_dir) as app:
        _fill(app, folder)
        old_values = _ciphertext_samples(app.engine)
        held = {sample for sample in old_values if sample in _raw_storage(app.engine)}
    assert held  # the storage is read where the values are
    return held


def _left_in_storage(ledger_url: str, key_dir: Path, samples: set[bytes]) -> list[bytes]:
    """The samples still found in the database's storage."""
    with _opened(ledger_url, keys_dir=key_dir) as after:
        storage = _raw_storage(after.engine)
    return [sample for sample in samples if sample in storage]


def test_no_old_version_of_a_value_is_left_in_the_database_s_storage(
    ledger_url: str, tmp_path: Path, key_dir: Path
) -> None:
    """A copy of the database files taken after the rotation holds nothing the old key opens:
    each rewritten row's old version (a dead tuple, a free page, the log) is gone."""
    held_before = _old_values_in_storage(ledger_url, tmp_path, key_dir)

    with _opened(ledger_url, keys_dir=key_dir) as rotating:
        reencrypt_ledger(rotating, operator="jsmith")

    assert _left_in_storage(ledger_url, key_dir, held_before) == []


def test_no_old_version_of_a_value_is_left_while_the_ledger_is_still_open(
    ledger_url: str, tmp_path: Path, key_dir: Path
) -> None:
    """A copy taken as soon as the re-encryption ends, before its connections are closed (a
    host stopped then, say), holds nothing the old key opens: the log is emptied into the
    file, not left for the last connection's close to do."""
    held_before = _old_values_in_storage(ledger_url, tmp_path, key_dir)

    with _opened(ledger_url, keys_dir=key_dir) as rotating:
        reencrypt_ledger(rotating, operator="jsmith")
        with rotating.engine.connect() as held_open:  # a connection still open
            held_open.execute(select(1))
            storage = _raw_storage(rotating.engine)
    assert [sample for sample in held_before if sample in storage] == []


def test_a_value_deleted_before_the_reencryption_leaves_nothing_the_old_key_opens(
    ledger_url: str, tmp_path: Path, key_dir: Path
) -> None:
    """A row deleted before the rotation (a cycle's staged part, say) leaves its bytes in the
    database's free space; the rotation rewrites that space too."""
    table = tables_cycle.cycle_staging
    with _opened(ledger_url, keys_dir=key_dir) as app:
        _fill(app, tmp_path)
        kept = _ciphertext_samples(app.engine)
        with app.ledger.engine.begin() as conn:
            put_staged(conn, app.ledger, 8, "result:0", {"note": SECRET_REASON * 600})
        gone = _ciphertext_samples(app.engine) - kept
        with app.ledger.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.cycle_id == 8))
        held_before = {sample for sample in gone if sample in _raw_storage(app.engine)}
    assert held_before  # the deleted row's bytes are still in the storage

    with _opened(ledger_url, keys_dir=key_dir) as rotating:
        reencrypt_ledger(rotating, operator="jsmith")

    assert _left_in_storage(ledger_url, key_dir, held_before) == []


def _snapshot(engine: Engine) -> Connection:
    """A connection in a transaction that has taken its snapshot (as a backup holds one)."""
    reader = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    reader.begin()
    reader.execute(select(1))
    return reader


# Whether the snapshot just taken is newer than every transaction begun before `floor`.
_NEWER_THAN = text("SELECT pg_snapshot_xmin(pg_current_snapshot()) >= CAST(:floor AS xid8)")
_NEXT_TRANSACTION = text("SELECT CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text)")


def _snapshot_newer_than_the_rewrite(engine: Engine) -> Connection:
    """A snapshot that sees every transaction begun before now as ended.

    A snapshot's horizon is the oldest transaction then in progress on the
    whole server: one taken while another test's write, begun before the
    rewrite, is still open would see the old versions as this test's backup
    did. This stands for a transaction that began after the rewrite, so it is
    taken once every transaction begun before it asks has ended (another
    test's writes are short).
    """
    with engine.connect() as conn:
        floor = conn.execute(_NEXT_TRANSACTION).scalar_one()
    deadline = time.monotonic() + 30.0
    while True:
        reader = _snapshot(engine)
        newer = reader.execute(_NEWER_THAN, {"floor": floor}).scalar_one()
        if newer or time.monotonic() > deadline:
            return reader
        reader.close()
        time.sleep(0.01)


def _rotate_doing_at_each_wait(
    ledger_url: str,
    key_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    at_wait: Callable[[], None] = lambda: None,
    wait_seconds: float = 30.0,
) -> None:
    """Re-encrypt the ledger, calling `at_wait` each time the storage's rewrite waits for
    older snapshots to end, which it does for at most `wait_seconds`."""

    def sleep(seconds: float) -> None:
        at_wait()
        time.sleep(seconds)

    monkeypatch.setattr(
        reencrypt_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep)
    )
    # By default long enough for another test's transaction on the shared server to end;
    # a rewrite waiting for the wrong sessions would wait it out and warn.
    monkeypatch.setattr(reencrypt_module, "SNAPSHOT_WAIT_SECONDS", wait_seconds)
    with _opened(ledger_url, keys_dir=key_dir) as rotating:
        reencrypt_ledger(rotating, operator="jsmith")


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("another_begins_meanwhile", [False, True])
def test_the_storage_is_rewritten_once_a_transaction_open_before_it_has_ended(
    ledger_url: str,
    tmp_path: Path,
    key_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    another_begins_meanwhile: bool,
) -> None:
    """A transaction that took its snapshot before the values were rewritten (a backup, say)
    still sees their old versions: the rewrite of the storage waits for it to end, so that
    none of them is kept. One begun while it waits is not waited for, nor warned of."""
    held_before = _old_values_in_storage(ledger_url, tmp_path, key_dir)

    backup = create_engine(ledger_url)
    readers = [_snapshot(backup)]  # its snapshot is taken before the rewrite

    def end_the_backup() -> None:
        if len(readers) == 1:
            readers[0].close()
            if another_begins_meanwhile:
                readers.append(_snapshot_newer_than_the_rewrite(backup))

    try:
        _rotate_doing_at_each_wait(ledger_url, key_dir, monkeypatch, end_the_backup)
    finally:
        for reader in readers:
            reader.close()
        backup.dispose()

    assert _warnings(caplog) == []
    assert _left_in_storage(ledger_url, key_dir, held_before) == []


def _write_in_progress(engine: Engine) -> Connection:
    """A connection in a transaction that holds a transaction id (as a long write does)."""
    writer = engine.connect()
    writer.begin()
    writer.execute(text("SELECT pg_current_xact_id()"))
    return writer


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the re-encryption warned of."""
    return [r.getMessage() for r in caplog.records if r.name == reencrypt_module.log.name]


def _pid(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("ends_meanwhile", [True, False], ids=["ends", "stays-open"])
def test_a_transaction_begun_while_an_older_write_was_open_is_waited_for(
    ledger_url: str,
    tmp_path: Path,
    key_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    ends_meanwhile: bool,
) -> None:
    """A transaction begun after the rewrite, while a write begun before it was still open,
    takes a snapshot as old as that write and keeps the old versions alive as long as it
    runs: the rewrite of the storage waits for it too, not only for the write. Ended while
    the rewrite waits, nothing the old key opens is left; still open when the wait is over,
    it is named in the warning (its session), and the warning is true."""
    held_before = _old_values_in_storage(ledger_url, tmp_path, key_dir)

    other = create_engine(ledger_url)
    writer = _write_in_progress(other)  # begun before the rewrite
    readers: list[Connection] = []

    def begin_a_reader_then_end_the_write_or_the_reader() -> None:
        if not readers:
            readers.append(_snapshot(other))  # as old as the write still open
            writer.close()
        elif ends_meanwhile:
            readers[0].close()

    try:
        _rotate_doing_at_each_wait(
            ledger_url,
            key_dir,
            monkeypatch,
            begin_a_reader_then_end_the_write_or_the_reader,
            wait_seconds=30.0 if ends_meanwhile else 2.0,
        )
        reader_pid = None if readers[0].closed else _pid(readers[0])
    finally:
        writer.close()
        for reader in readers:
            reader.close()
        other.dispose()

    left = _left_in_storage(ledger_url, key_dir, held_before)
    if ends_meanwhile:
        assert (_warnings(caplog), left) == ([], [])
    else:
        (warned,) = _warnings(caplog)
        assert f"session {reader_pid}" in warned
        assert left != []


# A plain VACUUM slowed to a crawl: about a tenth of a second per page of its table.
_SLOW_VACUUM = ("SET vacuum_cost_delay = 100", "SET vacuum_cost_limit = 1", "VACUUM vacuum_probe")
_FILL_PROBE = text(
    "INSERT INTO vacuum_probe SELECT n, repeat('x', 200) FROM generate_series(1, 20000) n"
)
_VACUUMING = text("SELECT pid FROM pg_stat_progress_vacuum WHERE datname = current_database()")


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_a_plain_vacuum_in_progress_is_not_waited_for(
    ledger_url: str,
    tmp_path: Path,
    key_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A plain (lazy) VACUUM begun before the rewrite holds a snapshot as old, but
    PostgreSQL leaves it out of what VACUUM FULL keeps: no wait, no warning, and nothing
    the old key opens is left (autovacuum runs such VACUUMs on the tables just rewritten)."""
    held_before = _old_values_in_storage(ledger_url, tmp_path, key_dir)
    other = create_engine(ledger_url, isolation_level="AUTOCOMMIT")
    with other.connect() as conn:
        conn.execute(text("CREATE TABLE vacuum_probe (n integer, filler text)"))
        conn.execute(_FILL_PROBE)
    vacuuming = other.connect()
    done = threading.Event()

    def vacuum() -> None:
        try:
            for statement in _SLOW_VACUUM:
                vacuuming.execute(text(statement))
        except DBAPIError:
            pass  # cancelled once the test has seen what it needs
        finally:
            done.set()

    worker = threading.Thread(target=vacuum)
    worker.start()
    try:
        with other.connect() as watch:
            deadline = time.monotonic() + 30.0
            while not watch.execute(_VACUUMING).all() and time.monotonic() < deadline:
                time.sleep(0.05)
            vacuum_pid = watch.execute(_VACUUMING).scalar_one()
            _rotate_doing_at_each_wait(ledger_url, key_dir, monkeypatch, wait_seconds=5.0)
            still_vacuuming = watch.execute(_VACUUMING).scalars().all()
            watch.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": vacuum_pid})
    finally:
        done.wait(60.0)
        worker.join(60.0)
        vacuuming.close()
        other.dispose()

    assert still_vacuuming == [vacuum_pid]  # it ran all through the rewrite
    assert _warnings(caplog) == []
    assert _left_in_storage(ledger_url, key_dir, held_before) == []


def test_a_host_left_with_the_old_key_is_refused(ledger_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        run_cycle(app, _sources(tmp_path), AS_OF)
        outcome = reencrypt_ledger(app)
    with (
        _opened(ledger_url, at_rest_key_file=outcome.previous_key_file) as stale,
        pytest.raises(ConfigurationError, match="another at-rest key"),
    ):
        _ = stale.ledger


class _PlaintextCodec(CipherCodec):
    """How the ledger stored payloads and reasons before encryption at rest was always on."""

    def encode(self, record_key: str, payload: bytes) -> bytes:
        return payload

    def encode_text(self, key: str, text: str) -> str:
        return text


def _legacy_ledger(ledger_url: str, folder: Path) -> None:
    """A ledger as arms-sync wrote it without a key: plaintext values, public subject ids."""
    legacy = _open(ledger_url)
    legacy.__dict__["codec"] = _PlaintextCodec(FieldCipher(new_data_key()), legacy_plaintext=True)
    legacy.__dict__["mint_subject_id"] = subject_id_minter(
        lambda message: hmac.new(PUBLIC_NAMESPACE, message.encode(), hashlib.sha256).hexdigest()
    )
    try:
        run_cycle(legacy, _sources(folder), AS_OF)
        unlink(legacy, PROBATION_ONE, POLICE_ONE, ACTOR, apply=True)
        with legacy.engine.begin() as conn:
            conn.execute(delete(schema.settings_kv))  # as a version without key checks left it
    finally:
        legacy.close()


def test_a_ledger_written_in_plaintext_ends_fully_encrypted(
    ledger_url: str, tmp_path: Path
) -> None:
    _legacy_ledger(ledger_url, tmp_path)
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as upgraded:
        before = _reads(upgraded)
        plaintext = [v for _, _, v in _stored(upgraded.engine) if not _opens_any(v)]
    assert plaintext

    with _opened(ledger_url, at_rest_key_file=key_file) as rotating:
        outcome = reencrypt_ledger(rotating)
    assert outcome.rewritten.plaintext == len(plaintext)

    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before
        _assert_under(after.engine, _cipher(key_file), _cipher(outcome.previous_key_file))
        assert after.codec.legacy_plaintext is False
        stored = b"".join(
            value.encode() if isinstance(value, str) else bytes(value)
            for _, _, value in _stored(after.engine)
        )
    assert personal_data_in(stored.decode("latin-1")) == []
    assert b"JONES" not in stored


def _opens_any(value: Any) -> bool:
    """Whether a stored value is in an encrypted form at all."""
    if isinstance(value, str):
        return value.startswith(TEXT_PREFIX)
    return bytes(value)[:1] == BLOB_FORMAT


def _crash_after_batches(monkeypatch: pytest.MonkeyPatch, batches: int) -> None:
    """Make the re-encryption fail once `batches` batches are committed."""
    real = reencrypt_module._rewrite_batch
    done = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        if done[0] == batches:
            raise OSError("the machine went away")
        done[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(reencrypt_module, "_rewrite_batch", failing)


def _crash_in_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the old key as `.old`, then fail before the new key takes the key file's name."""
    import sync.reencryption as service

    def half_switch(path: Path) -> None:
        path.with_name(path.name + ".old").hardlink_to(path)
        raise OSError("the machine went away")

    monkeypatch.setattr(service, "switch_data_key_files", half_switch)


def _crash_before_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail once the key file is switched, before the ledger records the new key."""
    import sync.reencryption as service

    def failing(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("the machine went away")

    monkeypatch.setattr(service, "_finish", failing)


CRASHES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "after-two-batches": lambda patch: _crash_after_batches(patch, 2),
    "after-five-batches": lambda patch: _crash_after_batches(patch, 5),
    "half-way-through-the-key-switch": _crash_in_switch,
    "before-the-ledger-records-the-key": _crash_before_finish,
}


@pytest.mark.parametrize("crash", list(CRASHES))
def test_an_interrupted_reencryption_is_finished_by_running_it_again(
    ledger_url: str, tmp_path: Path, crash: str
) -> None:
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        run_cycle(app, _sources(tmp_path), AS_OF)
        unlink(app, PROBATION_ONE, POLICE_ONE, ACTOR, apply=True)
        before = _reads(app)
    old = _cipher(key_file)
    early = _open(ledger_url, at_rest_key_file=key_file)
    _ = early.ledger  # a process that opened the ledger before the re-encryption began

    with pytest.MonkeyPatch.context() as patch:
        CRASHES[crash](patch)
        with (
            _opened(ledger_url, at_rest_key_file=key_file) as failing,
            pytest.raises(OSError, match="went away"),
        ):
            reencrypt_ledger(failing, batch_size=SMALL_BATCH)

    meanwhile = _open(ledger_url, at_rest_key_file=key_file)
    try:
        with pytest.raises(LedgerError, match="being re-encrypted"):
            _ = meanwhile.ledger
        with pytest.raises(
            LedgerError, match="cannot start while the ledger is being re-encrypted"
        ):
            early.ledger.start_run(AS_OF, _clock())
    finally:
        meanwhile.close()
        early.close()

    with _opened(ledger_url, at_rest_key_file=key_file) as again:
        outcome = reencrypt_ledger(again, batch_size=SMALL_BATCH)
    assert outcome.resumed
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _reads(after) == before
        _assert_under(after.engine, _cipher(key_file), old)
    assert _cipher(outcome.previous_key_file).pseudonym("pnc", "x") == old.pseudonym("pnc", "x")
    assert not key_file.with_name(key_file.name + ".new").exists()


def test_a_run_in_flight_makes_it_refuse_and_change_nothing(
    ledger_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        run_cycle(app, _sources(tmp_path), AS_OF)
        before = _reads(app)
        stored = _stored(app.engine)
        run_id = app.ledger.start_run(AS_OF, _clock())  # holds the run's liveness lock
        other = _open(ledger_url, at_rest_key_file=key_file)
        try:
            with pytest.raises(LedgerError, match="held by a run in flight"):
                reencrypt_ledger(other)
        finally:
            other.close()
        assert _stored(app.engine) == stored
        assert not key_file.with_name(key_file.name + ".new").exists()  # no stray key
        app.ledger.finish_run(run_id, "succeeded", {}, _clock())
        app.ledger.release_run(run_id)

    with _opened(ledger_url, at_rest_key_file=key_file) as still:
        assert _reads(still) == before  # the old key still opens it: nothing was claimed
        reencrypt_ledger(still)


def test_a_second_reencryption_at_once_is_refused(ledger_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        run_cycle(app, _sources(tmp_path), AS_OF)
        held = hold_ledger_task_lock(app.engine, REENCRYPT_TASK)
        assert held is not None
        try:
            other = _open(ledger_url, at_rest_key_file=key_file)
            try:
                with pytest.raises(LedgerError, match="another process"):
                    reencrypt_ledger(other)
            finally:
                other.close()
        finally:
            held.release()


@pytest.fixture
def no_leftover_key(tmp_path: Path) -> Iterator[Path]:
    """A key file path; afterwards, no temporary key file is left beside it."""
    path = tmp_path / "ledger.key"
    yield path
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ledger.key")]


def test_the_new_key_file_is_private(
    ledger_url: str, tmp_path: Path, no_leftover_key: Path
) -> None:
    with _opened(ledger_url, at_rest_key_file=no_leftover_key) as app:
        run_cycle(app, _sources(tmp_path), AS_OF)
        outcome = reencrypt_ledger(app)
    for path in (no_leftover_key, outcome.previous_key_file):
        assert path.stat().st_mode & 0o777 == 0o600


def test_a_value_its_own_key_cannot_open_is_refused_before_anything_changes(
    ledger_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "ledger.key"
    with _opened(ledger_url, at_rest_key_file=key_file) as app:
        run_cycle(app, _sources(tmp_path), AS_OF)
        stranger = FieldCipher(new_data_key()).encrypt("police/person/LAN-1", b"{}")
        records = schema.records
        with app.engine.begin() as conn:
            conn.execute(update(records).where(records.c.rid == "LAN-1").values(payload=stranger))
        stored = _stored(app.engine)
    with (
        _opened(ledger_url, at_rest_key_file=key_file) as rotating,
        pytest.raises(CryptoError, match=r"^A value in records does not open with"),
    ):
        reencrypt_ledger(rotating)
    assert sorted(p.name for p in tmp_path.glob("ledger.key*")) == ["ledger.key"]
    with _opened(ledger_url, at_rest_key_file=key_file) as after:
        assert _stored(after.engine) == stored
        assert len(list(export_links(after.ledger))) > 0  # not marked: the ledger still opens


_record_keys = st.lists(
    st.tuples(
        st.sampled_from(["police", "probation"]),
        st.sampled_from(["person", "assessment", "supervision"]),
        st.text(alphabet="AB1-", min_size=1, max_size=3),
    ),
    unique=True,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(keys=_record_keys, deleted=st.sets(st.integers(0, 24)), batch=st.integers(1, 6))
def test_every_row_is_rewritten_once_whatever_the_batch_size(
    keys: list[tuple[str, str, str]], deleted: set[int], batch: int
) -> None:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        schema.metadata.create_all(engine)
        old, new = FieldCipher(new_data_key()), FieldCipher(new_data_key())
        rows = [
            {
                "agency": agency,
                "rtype": rtype,
                "rid": rid,
                "updated_at": "2026-01-01T00:00:00Z",
                "deleted": number in deleted,
                "digest": "d",
                "payload": None
                if number in deleted
                else old.encrypt(record_key(agency, rtype, rid), rid.encode()),
                "applied_run": 1,
            }
            for number, (agency, rtype, rid) in enumerate(keys)
        ]
        if rows:
            with engine.begin() as conn:
                conn.execute(schema.records.insert(), rows)
        rekey = Rekey(CipherCodec(old), new)
        first = reencrypt_rows(engine, rekey, batch)
        assert first.by_table["records"] == sum(row["payload"] is not None for row in rows)
        with engine.connect() as conn:
            stored = conn.execute(
                select(
                    schema.records.c.agency,
                    schema.records.c.rtype,
                    schema.records.c.rid,
                    schema.records.c.payload,
                )
            ).all()
        for agency, rtype, rid, payload in stored:
            if payload is not None:
                assert new.decrypt(record_key(agency, rtype, rid), payload) == rid.encode()
        assert reencrypt_rows(engine, rekey, batch).total == 0
    finally:
        engine.dispose()
