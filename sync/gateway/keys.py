"""The reference gateway's key ring, read again whenever its files change on disk.

A gateway runs for a long time, and its keys change meanwhile: its own are
rotated or revoked, the hub's new public keys are imported. `LiveKeyRing`
looks at the ring file and the agency's private key folder before each
answer (a `stat` of each, as `App.keys_stamp` does for a worker) and reads
them again when one changed, so a revocation is refused, and a rotation
served, from the next request on, without a restart. A ring that cannot be
read is never replaced by the one read before: the answers that need keys are
refused until it can be read again.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sync.crypto.keyring import PRIVATE_DIR, RING_FILE, FileStamp, file_stamp, load_keyring
from sync.crypto.keys import KeyRing, Party
from sync.errors import ConfigurationError, KeyError_

RingStamp = tuple[FileStamp, FileStamp]
log = logging.getLogger("arms_sync.gateway")


class LiveKeyRing:
    """One agency's key ring from a key directory, kept as the files on disk are; thread-safe.

    Built at start, it reads the ring once (a ring that cannot be read then is
    the caller's `ConfigurationError`); from then on `current` reads it again
    whenever its files changed.
    """

    def __init__(self, directory: Path, agency: Party) -> None:
        self.directory = directory
        self.agency = Party(agency)
        self._lock = threading.Lock()
        self._stamp = self.stamp()
        self._ring: KeyRing | str = load_keyring(directory, self.agency)

    def stamp(self) -> RingStamp:
        """How the ring file and the agency's private key folder look on disk now.

        Keys are written whole and renamed into place, so a rotation, a
        revocation or an import always changes one of the two.
        """
        private = self.directory / PRIVATE_DIR / self.agency.value
        return (file_stamp(self.directory / RING_FILE), file_stamp(private))

    def current(self) -> KeyRing:
        """The key ring as its files are now; `KeyError_` while they cannot be read."""
        with self._lock:
            stamp = self.stamp()
            if stamp != self._stamp:
                # Stamped before reading: a change made during the read is seen next time.
                self._stamp = stamp
                self._ring = self._read()
            ring = self._ring
        if isinstance(ring, str):
            raise KeyError_(ring)
        return ring

    def _read(self) -> KeyRing | str:
        """The ring read again, or why it cannot be (the ring read before is dropped)."""
        try:
            ring = load_keyring(self.directory, self.agency)
        except ConfigurationError as error:
            log.warning("the gateway's key ring cannot be read again: %s", error)
            return f"the gateway's key ring cannot be read: {error}"
        log.info("the gateway's key files changed; it read them again")
        return ring
