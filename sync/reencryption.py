"""Re-encrypting the ledger under a new at-rest key (`arms-sync ledger reencrypt`).

The steps, each safe to interrupt and finished by running the command again:

1. the next key is written beside the key file, `<key file>.new` (mode 0600):
   a fresh AES-256-GCM key and the same MAC key, so pseudonyms and subject ids
   do not change;
2. the ledger is marked as being re-encrypted (`ledger_meta`): from then on no
   other process opens it and no run or cycle starts; a run or cycle already
   in flight makes the command refuse and take the mark away again;
3. every encrypted value is rewritten under the next key, a batch per
   transaction (`sync/ledger/reencrypt.py`), plaintext left from before
   encryption at rest was always on included; then the tables' storage is
   rewritten, so that no old version of a row, which the old key opens,
   is left in it;
4. the key file is switched: the current key is kept as `<key file>.old`, the
   next one renamed into place;
5. one transaction records the new key's check, that the ledger holds no
   plaintext, and the audit entry, and takes the mark away.

Until step 5 both keys are on disk, and every value opens with one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, delete, func, select, text, update

from sync.app import App
from sync.audit.chain import AuditKind
from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import cli_actor
from sync.crypto.at_rest import DataKey, FieldCipher, follows_data_key, rotated_data_key
from sync.crypto.key_file import (
    next_key_path,
    previous_key_path,
    read_data_key_file,
    switch_data_key_files,
    write_new_data_key_file,
)
from sync.errors import ConfigurationError, CryptoError, LedgerError
from sync.ledger import schema
from sync.ledger.codec import CipherCodec
from sync.ledger.data_key import (
    AEAD_CHECK,
    KEY_CHECK,
    LEGACY_PLAINTEXT,
    aead_check,
    key_check,
    ledger_meta,
    opens_aead_check,
)
from sync.ledger.location import ledger_place
from sync.ledger.reencrypt import (
    REENCRYPT_BATCH,
    Progress,
    Rekey,
    Rewritten,
    compact_storage,
    iter_encrypted_values,
    reencrypt_rows,
)
from sync.ledger.reencryption_mark import REENCRYPTION_MARK, reencryption_target
from sync.ledger.run_locks import hold_ledger_task_lock, run_locks_for
from sync.ledger.runs import RUN_RUNNING, mark_interrupted_runs

REENCRYPT_TASK = "reencrypt"
AUDIT_PURPOSE = "personal data re-encrypted under a new at-rest key"


@dataclass(frozen=True, slots=True)
class Reencrypted:
    """The outcome: what was rewritten, whether an interrupted run was finished, the key files."""

    rewritten: Rewritten
    resumed: bool
    key_file: Path
    previous_key_file: Path


def reencrypt_ledger(
    app: App,
    *,
    operator: str | None = None,
    batch_size: int = REENCRYPT_BATCH,
    progress: Progress | None = None,
) -> Reencrypted:
    """Rewrite the ledger's personal data under a new at-rest key, or finish doing so.

    The audit entry names `operator` (else the configured one, else the system
    account). The `app` keeps the old key's codec if it had one: use a new
    `App` afterwards.
    """
    engine = app.engine
    place = ledger_place(engine.url)
    path = app.at_rest_key_path(engine)
    held = hold_ledger_task_lock(engine, REENCRYPT_TASK)
    if held is None:
        raise LedgerError(f"The ledger {place} is being re-encrypted by another process.")
    try:
        with engine.connect() as conn:
            resumed = reencryption_target(conn) is not None
        made_next_key = not resumed and not next_key_path(path).exists()
        rekey = _resumed_keys(engine, path, place) if resumed else _fresh_keys(app, path)
        try:
            _claim(engine, rekey.new, place, app.clock())
        except LedgerError:
            if made_next_key:  # refused before anything used it: no stray key left behind
                next_key_path(path).unlink(missing_ok=True)
            raise
        rewritten = reencrypt_rows(engine, rekey, batch_size, progress)
        compact_storage(engine)
        if next_key_path(path).exists():
            switch_data_key_files(path)
        actor = cli_actor(operator or app.settings.operator)
        _finish(engine, rekey.new, actor, audit_detail(rewritten, resumed))
    finally:
        held.release()
    return Reencrypted(rewritten, resumed, path, previous_key_path(path))


def _fresh_keys(app: App, path: Path) -> Rekey:
    """The ledger's key as bound (checked, made if new) and the next key, written beside it."""
    previous = previous_key_path(path)
    if previous.exists():
        raise ConfigurationError(
            f"The at-rest key file {previous.name} from an earlier re-encryption is still "
            "there; keep it with the backups that need it, remove it, then run this again."
        )
    old = app.codec
    _check_every_value(app.engine, old)
    current = read_data_key_file(path)
    return Rekey(old, FieldCipher(_next_key(path, current)))


def _check_every_value(engine: Engine, codec: CipherCodec) -> None:
    """Refuse, before anything changes, a ledger holding a value its own key cannot open."""
    for table, associated_data, stored in iter_encrypted_values(engine):
        try:
            if isinstance(stored, str):
                codec.decode_text(associated_data, stored)
            else:
                codec.decode(associated_data, bytes(stored))
        except CryptoError as error:
            raise CryptoError(
                f"A value in {table} does not open with the ledger's at-rest key, "
                "so nothing was re-encrypted."
            ) from error


def _next_key(path: Path, current: DataKey) -> DataKey:
    """The next key in `<key file>.new`: made now, or the one an interrupted run made."""
    following = next_key_path(path)
    try:
        return write_new_data_key_file(following, rotated_data_key(current))
    except FileExistsError:
        found = read_data_key_file(following)
    except OSError as error:
        raise ConfigurationError(
            f"The new at-rest key file {following.name} cannot be made beside {path.name}."
        ) from error
    if not follows_data_key(found, current):
        raise ConfigurationError(
            f"The file {following.name} does not hold a next key for {path.name}; "
            "remove it and run this again."
        )
    return found


def _resumed_keys(engine: Engine, path: Path, place: str) -> Rekey:
    """The two keys of an interrupted re-encryption, wherever it stopped."""
    with engine.connect() as conn:
        meta = ledger_meta(conn)
    target = meta[REENCRYPTION_MARK]
    following, previous = next_key_path(path), previous_key_path(path)
    if following.exists() and opens_aead_check(_cipher(following), target):
        new, old = following, path
    elif path.exists() and opens_aead_check(_cipher(path), target):
        new, old = path, previous
    else:
        raise ConfigurationError(
            f"The new at-rest key of the unfinished re-encryption of the ledger {place} is "
            f"in neither {path.name} nor {following.name}; restore it and run this again."
        )
    old_cipher = _cipher(old)
    if meta.get(KEY_CHECK) != key_check(old_cipher) or not opens_aead_check(
        old_cipher, meta.get(AEAD_CHECK, "")
    ):
        raise ConfigurationError(
            f"The at-rest key file {old.name} does not hold the key the ledger {place} "
            "was encrypted under before its re-encryption began."
        )
    legacy = meta.get(LEGACY_PLAINTEXT) == "1"
    return Rekey(CipherCodec(old_cipher, legacy_plaintext=legacy), _cipher(new))


def _cipher(path: Path) -> FieldCipher:
    return FieldCipher(read_data_key_file(path))


def _claim(engine: Engine, new: FieldCipher, place: str, now: datetime) -> None:
    """Mark the ledger as being re-encrypted, unless a run or cycle is in flight."""
    table = schema.settings_kv
    with engine.begin() as conn:
        claimed = reencryption_target(conn) is None
        if claimed:
            conn.execute(table.insert().values(key=REENCRYPTION_MARK, value=aead_check(new)))
    in_flight = _runs_in_flight(engine, now)
    if in_flight:
        if claimed:
            with engine.begin() as conn:
                conn.execute(delete(table).where(table.c.key == REENCRYPTION_MARK))
        runs, pronoun = (
            ("a run", "it has") if in_flight == 1 else (f"{in_flight} runs", "they have")
        )
        raise LedgerError(
            f"The ledger {place} is held by {runs} in flight (a sync run, a distributed cycle "
            f"or a reconcile act); re-encrypt it once {pronoun} finished."
        )


def _runs_in_flight(engine: Engine, now: datetime) -> int:
    """Runs still running, once every run that started before the mark is visible."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # waits for every transaction that is inserting a run
            conn.execute(text("LOCK TABLE runs IN SHARE MODE"))
    mark_interrupted_runs(engine, run_locks_for(engine), now)
    runs = schema.runs
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(runs).where(runs.c.status == RUN_RUNNING)
        ).scalar_one()
    return int(count)


def _finish(engine: Engine, new: FieldCipher, actor: str, detail: str) -> None:
    """Make the new key the ledger's own, record the act, and take the mark away."""
    table = schema.settings_kv
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.key == AEAD_CHECK).values(value=aead_check(new)))
        conn.execute(update(table).where(table.c.key == LEGACY_PLAINTEXT).values(value="0"))
        conn.execute(delete(table).where(table.c.key == REENCRYPTION_MARK))
        audit_log_for(engine).record(
            conn,
            kind=AuditKind.ALTERATION,
            actor=actor,
            purpose=AUDIT_PURPOSE,
            detail=detail,
        )


def counts_by_table(rewritten: Rewritten) -> str:
    """`records 10, rejects 2, …`: the values rewritten in each table."""
    return ", ".join(f"{table} {count:,}" for table, count in rewritten.by_table.items())


def audit_detail(rewritten: Rewritten, resumed: bool) -> str:
    """The audit entry's detail: counts only, of this run's rewriting (a run that finishes
    an interrupted one counts only what was left to it, and says so)."""
    finished = (
        "; an interrupted re-encryption finished (the counts are of what was left to do)"
        if resumed
        else ""
    )
    return (
        f"values rewritten: {counts_by_table(rewritten)}; "
        f"{rewritten.plaintext:,} were plaintext{finished}"
    )
