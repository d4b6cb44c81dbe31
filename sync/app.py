"""The composition root: builds each client once per process and hands it out.

CLI commands and Celery tasks ask an `App` for the ledger, the policy settings,
the subject-id minting function and the gateway clients; nothing is built at
import time, so a Celery worker opens its database and HTTP connections after
it forks. The ledger always encrypts personal data at rest; `at_rest_key_source`
says where its key comes from.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DatabaseError
from sqlalchemy.pool import SingletonThreadPool

from sync.core.decide import Linker, link_on_identifiers, link_probabilistically
from sync.core.policy import PI_15_2015, PolicySettings
from sync.core.records import RecordRef
from sync.crypto.at_rest import FieldCipher, new_data_key
from sync.crypto.key_file import NEXT_SUFFIX, PREVIOUS_SUFFIX, read_data_key_file
from sync.crypto.keyring import (
    RING_FILE,
    FileStamp,
    data_key_path,
    file_stamp,
    load_data_key,
    load_keyring,
)
from sync.crypto.keys import KeyRing, Party
from sync.errors import ConfigurationError
from sync.gateway_clients import GatewayClients, build_gateway_client
from sync.ledger.codec import CipherCodec
from sync.ledger.data_key import GIVE_THE_LEDGER_S_KEY, bind_data_key, ledger_key_file
from sync.ledger.location import (
    is_memory_database,
    ledger_place,
    open_failure,
    parse_ledger_url,
    sqlite_path,
    unusable_url,
)
from sync.ledger.migrate import VERSION_TABLE, upgrade_to_head
from sync.ledger.outbox import OutboxKeys
from sync.ledger.store import Ledger
from sync.local_day import day_in_england
from sync.owner_only_files import create_owner_only_file, restrict_to_owner
from sync.policy_file import load_policy_file
from sync.settings import Settings

if TYPE_CHECKING:
    from sync.gateway.client import GatewayClient

SUBJECT_ID_PREFIX = "S"
SUBJECT_ID_HEX_CHARS = 16
SQLITE_BUSY_TIMEOUT_MS = 30_000
LOCAL_KEY_SUFFIX = ".key"
# What SQLite keeps beside a ledger file (rollback journal, WAL and its index).
SQLITE_COMPANION_SUFFIXES = ("-journal", "-wal", "-shm")

log = logging.getLogger(__name__)


def build_engine(url: str) -> Engine:
    """An engine for the ledger; SQLite gets WAL and a busy timeout for concurrent readers.

    A URL arms-sync cannot use is a `ConfigurationError` naming the problem,
    never the URL's password.
    """
    sa_url = parse_ledger_url(url)
    try:
        return _engine(sa_url)
    except (ArgumentError, ImportError, ValueError, TypeError) as error:
        raise unusable_url(sa_url, error) from error


def _engine(sa_url: URL) -> Engine:
    if sa_url.get_backend_name() == "sqlite":
        ledger_file = sqlite_path(sa_url)
        if ledger_file is not None:
            # Owner-only from the start; if it cannot be made, SQLite says why.
            with contextlib.suppress(OSError):
                create_owner_only_file(ledger_file)
        engine = create_engine(
            sa_url,
            # A database in memory lives in its connection: one per thread, as SQLAlchemy's default.
            poolclass=SingletonThreadPool if is_memory_database(sa_url) else None,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,  # errors and logs never quote the values (personal data)
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            tables = _table_names(cursor)
            # Another application's database is refused later, its file left as it was.
            if not tables or VERSION_TABLE in tables:
                if ledger_file is not None:
                    # A ledger made earlier or copied, or an empty file about to become one.
                    restrict_ledger_files(ledger_file)
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # 64 MiB of page cache (default 2 MiB): a national first run inserts
            # hundreds of thousands of rows under random keys (notice ids), and
            # with the small default cache every insert reads its b-tree pages again.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.close()

        return engine
    return create_engine(sa_url, pool_pre_ping=True, hide_parameters=True)


def restrict_ledger_files(ledger_file: Path) -> None:
    """Make an SQLite ledger, SQLite's files beside it and its key files owner-only.

    The key files are the key and, after a re-encryption, the key it replaced
    (which opens every copy taken before) and the next key of one unfinished.
    A ledger made by an earlier version, or copied without its mode, may be
    readable by other users; one warning names the files that were.
    """
    key_files = (LOCAL_KEY_SUFFIX + s for s in ("", PREVIOUS_SUFFIX, NEXT_SUFFIX))
    suffixes = (*SQLITE_COMPANION_SUFFIXES, *key_files)
    files = [ledger_file, *(ledger_file.with_name(ledger_file.name + s) for s in suffixes)]
    opened = [str(path) for path in files if restrict_to_owner(path)]
    if opened:
        log.warning(
            "These ledger files were open to other users; they are now their owner's alone: %s.",
            ", ".join(opened),
        )


def _table_names(cursor: Any) -> set[str]:
    """The names of an SQLite database's tables."""
    return {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _makes_ledger_file(url: str) -> bool:
    """Whether opening the ledger at `url` would make a new SQLite file."""
    path = sqlite_path(parse_ledger_url(url))
    return path is not None and not path.exists()


def subject_id_minter(keyed_hex: Callable[[str], str]) -> Callable[[RecordRef, int], str]:
    """A subject-id minting function over a keyed hash (hex) of the smallest record reference."""

    def mint(ref: RecordRef, attempt: int) -> str:
        digest = keyed_hex(f"{ref.agency}:{ref.person_id}:{attempt}")
        return SUBJECT_ID_PREFIX + digest[:SUBJECT_ID_HEX_CHARS].upper()

    return mint


def local_key_file(engine: Engine) -> Path | None:
    """The at-rest key file beside an SQLite ledger file (None for any other ledger)."""
    path = sqlite_path(engine.url)
    return None if path is None else path.with_name(path.name + LOCAL_KEY_SUFFIX)


KeysStamp = tuple[FileStamp, ...]


@dataclass
class App:
    """Everything a command or task needs, built lazily and once."""

    settings: Settings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # False for a command that reads a ledger some run has made: a database holding no
    # ledger is refused rather than given an empty one (`upgrade_to_head`).
    makes_ledger: bool = True
    _gateways: GatewayClients = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Holds no client yet: each is built when first asked for (after a fork).
        self._gateways = GatewayClients(
            partial(build_gateway_client, self.settings, self.require_keyring)
        )

    @cached_property
    def engine(self) -> Engine:
        """The ledger's engine, schema created or upgraded in place on first use.

        A new SQLite ledger file is made only once the configured keys are
        known to be readable, so a refused key leaves no empty ledger behind.
        """
        if _makes_ledger_file(self.settings.database_url):
            self._check_configured_keys()
        engine = build_engine(self.settings.database_url)
        try:
            upgrade_to_head(engine, may_create=self.makes_ledger)
        except DatabaseError as error:
            failure = open_failure(engine.url, error)
            if failure is None:
                raise
            raise failure from error
        return engine

    @cached_property
    def codec(self) -> CipherCodec:
        """How the ledger stores personal data: encrypted under the deployment's data key."""
        engine = self.engine
        cipher = self._at_rest_cipher(engine)
        return bind_data_key(engine, cipher, ledger_place(engine.url), self._key_named(engine))

    def _key_named(self, engine: Engine) -> str:
        """The key a refusal says was tried (its file, and where that choice came from), and
        the ledger's own key file beside it when another was chosen first."""
        path = self._data_key_file(engine)
        if path is None:
            return "a key made for this process"
        from_directory = self.settings.at_rest_key_file is None
        if not from_directory:
            chosen = f"the one in {path.name} (ARMS_SYNC_AT_REST_KEY_FILE)"
        elif self._data_key_directory() is not None:
            chosen = "the key directory's data key"
        else:
            return f"the one in {path.name} beside it"
        local = local_key_file(engine)
        if local is None or local == path or not local.exists():
            return f"{chosen}; {GIVE_THE_LEDGER_S_KEY}"
        taken_first = ", which is taken before a file beside the ledger" if from_directory else ""
        return (
            f"{chosen}{taken_first}; if {local.name} beside it is its key, point "
            "ARMS_SYNC_AT_REST_KEY_FILE at that file"
        )

    @cached_property
    def ledger(self) -> Ledger:
        """The ledger, schema upgraded in place and data key checked on first use."""
        return Ledger(self.engine, self.codec)

    @cached_property
    def policy(self) -> PolicySettings:
        """The ownership policy's versions (the policy file's, else the built-in first
        version) and the per-area training dates, from settings."""
        policy_file = self.settings.policy_file
        policies = (PI_15_2015,) if policy_file is None else load_policy_file(policy_file)
        return PolicySettings(
            policies=policies,
            training_dates=dict(self.settings.training_dates),
            default_training_date=self.settings.default_training_date,
        )

    @cached_property
    def keyring(self) -> KeyRing | None:
        """The hub's key ring, when the deployment has a key directory."""
        directory = self.settings.keys_dir
        if directory is None:
            return None
        if not directory.is_dir():
            raise ConfigurationError(f"The key directory {directory} does not exist.")
        return load_keyring(directory, Party.HUB)

    def require_keyring(self) -> KeyRing:
        """The hub's key ring, or a clear error saying where to configure it."""
        keyring = self.keyring
        if keyring is None:
            raise ConfigurationError(
                "This needs the key directory: pass --keys DIR or set ARMS_SYNC_KEYS_DIR."
            )
        return keyring

    def _check_configured_keys(self) -> None:
        """Refuse a key directory or at-rest key file that is configured but unreadable."""
        directory = self._data_key_directory()
        if directory is not None:
            load_data_key(directory)
        key_file = self.settings.at_rest_key_file
        if key_file is not None and key_file.exists():
            read_data_key_file(key_file)

    def _at_rest_cipher(self, engine: Engine) -> FieldCipher:
        """The data key: the key directory's, a file's (made if new), or one of this process."""
        path = self._data_key_file(engine)
        if path is None:
            return FieldCipher(new_data_key())
        directory = self._data_key_directory()
        if directory is not None:
            return FieldCipher(load_data_key(directory))
        return ledger_key_file(engine, path, ledger_place(engine.url))

    def _data_key_directory(self) -> Path | None:
        """The key directory, when the data key comes from it (no key file of its own)."""
        settings = self.settings
        if settings.at_rest_key_file is not None or self.keyring is None:
            return None
        return settings.keys_dir

    def at_rest_key_path(self, engine: Engine) -> Path:
        """The file that holds the ledger's data key (refused if the ledger has none)."""
        path = self._data_key_file(engine)
        if path is None:
            raise ConfigurationError(
                "A ledger in memory has its at-rest key only in its process; no file holds it."
            )
        return path

    def _data_key_file(self, engine: Engine) -> Path | None:
        """Where the data key is kept, first match wins; None for a ledger in memory with none.

        The explicit key file, else the key directory's, else the file beside an
        SQLite ledger file. A ledger on a server needs one every host shares.
        """
        settings = self.settings
        if settings.at_rest_key_file is not None:
            return settings.at_rest_key_file
        directory = self._data_key_directory()
        if directory is not None:
            return data_key_path(directory)
        local = local_key_file(engine)
        if local is not None or is_memory_database(engine.url):
            return local
        raise ConfigurationError(
            f"The ledger {ledger_place(engine.url)} needs an at-rest key every host shares: "
            "set ARMS_SYNC_KEYS_DIR or ARMS_SYNC_AT_REST_KEY_FILE (or keys_dir or "
            "at_rest_key_file in the settings file)."
        )

    @cached_property
    def field_cipher(self) -> FieldCipher:
        """At-rest encryption and pseudonyms under the data key the ledger was checked with."""
        return self.codec.cipher

    @cached_property
    def outbox_keys(self) -> OutboxKeys | None:
        """Keys to seal notices and keep their batches, when the deployment has keys."""
        if self.keyring is None:
            return None
        return OutboxKeys(self.keyring, self.field_cipher)

    @cached_property
    def mint_subject_id(self) -> Callable[[RecordRef, int], str]:
        """How new subject ids are made: keyed with the deployment's data key."""
        return subject_id_minter(partial(self.field_cipher.pseudonym, "subject"))

    @property
    def linker(self) -> Linker:
        """How person records are linked: identifiers only, or the probabilistic matcher."""
        if self.settings.linker == "identifiers":
            return link_on_identifiers
        return link_probabilistically

    def gateway_client(self, base_url: str, agency: str) -> GatewayClient:
        """This thread's client for an agency's gateway: built on first use, then reused.

        One per (agency, base URL) per thread, kept until the App is closed, so
        passes share its connections and bearer token. Callers never close it.
        A missing client secret or plain http off this machine is refused here.
        """
        return self._gateways.get(base_url, agency)

    def keys_stamp(self) -> KeysStamp:
        """What the key files this App reads look like on disk now (to notice they changed).

        The key directory's ring and data key and the at-rest key file, each by
        inode, size and modification time (None while missing). Keys are
        written whole and replaced, so a rotation, revocation or new public key
        always changes the stamp.
        """
        settings = self.settings
        files: list[Path] = []
        if settings.keys_dir is not None:
            files += [settings.keys_dir / RING_FILE, data_key_path(settings.keys_dir)]
        if settings.at_rest_key_file is not None:
            files.append(settings.at_rest_key_file)
        return tuple(file_stamp(path) for path in files)

    def today(self) -> date:
        """Today's date in England and Wales (`sync.local_day`)."""
        return day_in_england(self.clock())

    def close(self) -> None:
        """Close the gateway clients; release run locks still held and pooled connections."""
        self._gateways.close()
        if "ledger" in self.__dict__:
            self.ledger.close()
        elif "engine" in self.__dict__:
            self.engine.dispose()
