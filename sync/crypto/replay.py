"""Replay protection: the `ReplayGuard` interface and an in-memory guard.

A receiver accepts each `msg_id` once. Seeing the same envelope again (same
`msg_id`, same digest of its canonical encoding, `wire_digest`: a re-encoded
copy included) is `SAME`: the caller treats it as already applied and changes
nothing. The same `msg_id` with a different digest
is refused with `EnvelopeRejected`. The ledger-backed guard lives with the ledger.
"""

from __future__ import annotations

import hmac
from enum import StrEnum
from typing import Protocol

from sync.errors import EnvelopeRejected


class ReplayVerdict(StrEnum):
    """What a replay guard says about a message id."""

    NEW = "new"
    SAME = "same"


class ReplayGuard(Protocol):
    """Records message ids and says whether one was seen before."""

    def check_and_record(self, msg_id: str, digest: str) -> ReplayVerdict:
        """`NEW` (now recorded), `SAME`, or `EnvelopeRejected` for a reused msg_id."""
        ...


def replay_refused() -> EnvelopeRejected:
    """The error for a msg_id seen before with different content."""
    return EnvelopeRejected("the message id was already used for a different envelope (replay).")


class InMemoryReplayGuard:
    """A replay guard held in a dict, for tests and for one file read in one process."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def check_and_record(self, msg_id: str, digest: str) -> ReplayVerdict:
        """`NEW` (now recorded), `SAME`, or `EnvelopeRejected` for a reused msg_id."""
        known = self._seen.get(msg_id)
        if known is None:
            self._seen[msg_id] = digest
            return ReplayVerdict.NEW
        if hmac.compare_digest(known, digest):
            return ReplayVerdict.SAME
        raise replay_refused()

    def __len__(self) -> int:
        return len(self._seen)
