"""A rejected line's fingerprint: its agency and bytes, and which copy it is after the first."""

from __future__ import annotations

import hashlib

from sync.ingest import reject_fingerprint

RAW = b'{"type":"visit","id":"V-1"}'


def test_the_first_copy_of_a_line_keeps_the_fingerprint_of_its_agency_and_bytes() -> None:
    expected = hashlib.sha256(b"police\0" + RAW).hexdigest()
    assert reject_fingerprint("police", RAW) == expected
    assert reject_fingerprint("police", RAW, 1) == expected


def test_later_copies_and_the_other_agency_have_fingerprints_of_their_own() -> None:
    prints = {
        reject_fingerprint("police", RAW, 1),
        reject_fingerprint("police", RAW, 2),
        reject_fingerprint("police", RAW, 3),
        reject_fingerprint("probation", RAW, 1),
    }
    assert len(prints) == 4
