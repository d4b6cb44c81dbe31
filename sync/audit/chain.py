"""Pure hashing and verification of the audit chain (standard library only).

Each entry's hash is SHA-256 over a canonical JSON encoding of its format
version, sequence number, UTC timestamp, kind, actor, purpose, recipient,
record references, detail and the previous entry's hash. The first entry
follows `GENESIS_HASH`. Verification walks the entries in sequence order and
reports the first one that is missing, out of place or altered. Anchors (an
entry's number and hash kept outside the database) let it also catch a chain
cut short or rewritten from before the anchored entry onwards.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

CHAIN_FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64
FIRST_SEQ = 1
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_ACTOR_CHARS = 100
MAX_PURPOSE_CHARS = 200
MAX_RECIPIENT_CHARS = 100
MAX_DETAIL_CHARS = 300
MAX_REF_CHARS = 420

REF_KINDS = frozenset(
    {
        "person",
        "subject",
        "run",
        "assessment",
        "override",
        "flag",
        "link",
        "review",
        "msg",
        "batch",
        "record",
        "source",
        "file",
        "export",
        "report",
    }
)
_REF_RE = re.compile(r"([a-z]+):(\S+)")  # matched whole
_PNC_LIKE = re.compile(r"\b\d{2}(?:\d{2})?/\d{1,7}[A-Z]\b")
_CRO_LIKE = re.compile(r"\b(?:\d{1,6}/\d{2}[A-Z]|SF\d{2}/\d{1,6}[A-Z])\b")
_ANCHOR_RE = re.compile(r"([1-9][0-9]{0,17}):([0-9a-f]{64})")  # matched whole


class AuditKind(StrEnum):
    """The kinds of processing s.62 requires a log of."""

    COLLECTION = "collection"
    ALTERATION = "alteration"
    CONSULTATION = "consultation"
    DISCLOSURE = "disclosure"
    COMBINATION = "combination"
    ERASURE = "erasure"


class UnsafeEntry(ValueError):
    """An entry would carry something other than non-personal metadata."""


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry before it takes its place in the chain."""

    kind: AuditKind
    actor: str
    purpose: str
    recipient: str | None = None
    refs: tuple[str, ...] = ()
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as stored: its place, its content and its hashes."""

    seq: int
    at: str
    kind: str
    actor: str
    purpose: str
    recipient: str | None
    refs: str
    detail: str | None
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, object]:
        """The entry as a JSON object (refs as a list).

        Refs stored as anything but a JSON list of strings (a row altered in
        the database) are exported as the stored text, so that the export
        still shows the whole log; `audit verify` names such an entry.
        """
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "actor": self.actor,
            "purpose": self.purpose,
            "recipient": self.recipient,
            "refs": _refs_as_stored(self.refs),
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _refs_as_stored(refs: str) -> list[str] | str:
    """Stored refs as the list they encode, or as the stored text if they encode none."""
    try:
        decoded = json.loads(refs)
    except ValueError:
        return refs
    if isinstance(decoded, list) and all(isinstance(ref, str) for ref in decoded):
        return decoded
    return refs


@dataclass(frozen=True, slots=True)
class Head:
    """The chain head: the last entry's sequence number and hash."""

    seq: int
    hash: str

    @property
    def anchor(self) -> str:
        """The head as an anchor, `SEQ:HASH`, to keep outside the database."""
        return f"{self.seq}:{self.hash}"


def parse_anchor(text: str) -> Head:
    """An anchor `SEQ:HASH` (as `audit head` prints it), or `ValueError` saying what is wrong."""
    match = _ANCHOR_RE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError("an anchor is an entry number and its 64-hex hash, as SEQ:HASH")
    return Head(int(match[1]), match[2])


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of verifying the chain."""

    ok: bool
    count: int
    first_bad: int | None = None
    problem: str | None = None

    def sentence(self) -> str:
        """One sentence for a person to read."""
        if self.ok:
            return f"The audit log is intact: {self.count} entries verified."
        return f"The audit log fails verification at entry {self.first_bad}: {self.problem}."


def format_timestamp(moment: datetime) -> str:
    """The fixed-width UTC text of a moment (sorts as it compares)."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def canonical_refs(refs: Iterable[str]) -> str:
    """Record references as canonical JSON: unique, sorted, compact."""
    return json.dumps(sorted(set(refs)), separators=(",", ":"))


def check_draft(draft: Draft) -> None:
    """Refuse a draft whose fields are too long, whose refs are not references, or that
    looks as if it carries a PNC or CRO number."""
    _check_text("actor", draft.actor, MAX_ACTOR_CHARS, required=True)
    _check_text("purpose", draft.purpose, MAX_PURPOSE_CHARS, required=True)
    _check_text("recipient", draft.recipient, MAX_RECIPIENT_CHARS, required=False)
    _check_text("detail", draft.detail, MAX_DETAIL_CHARS, required=False)
    for ref in draft.refs:
        match = _REF_RE.fullmatch(ref)
        if len(ref) > MAX_REF_CHARS or match is None or match.group(1) not in REF_KINDS:
            raise UnsafeEntry("audit: a reference is not of the form kind:id")
        if looks_like_identifier(match.group(2)):
            raise UnsafeEntry("audit: a reference looks like a PNC or CRO number")


def _check_text(field: str, value: str | None, limit: int, *, required: bool) -> None:
    if value is None or value == "":
        if required:
            raise UnsafeEntry(f"audit: the {field} is missing")
        return
    if len(value) > limit or not value.isprintable():
        raise UnsafeEntry(f"audit: the {field} is too long or not plain text")
    if looks_like_identifier(value):
        raise UnsafeEntry(f"audit: the {field} looks as if it holds a PNC or CRO number")


def looks_like_identifier(text: str) -> bool:
    """Whether `text` holds something shaped like a PNC or CRO number."""
    if "/" not in text:  # both shapes have one; most texts are checked by this alone
        return False
    return bool(_PNC_LIKE.search(text) or _CRO_LIKE.search(text))


def entry_hash(
    seq: int,
    at: str,
    draft_fields: tuple[str, str, str, str | None, str, str | None],
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical encoding of an entry's fields and the previous hash.

    `draft_fields` is (kind, actor, purpose, recipient, refs JSON, detail).
    """
    kind, actor, purpose, recipient, refs, detail = draft_fields
    encoded = json.dumps(
        [CHAIN_FORMAT_VERSION, seq, at, kind, actor, purpose, recipient, refs, detail, prev_hash],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def seal(draft: Draft, seq: int, at: str, prev_hash: str) -> Entry:
    """Place a draft after `prev_hash` as entry `seq`."""
    refs = canonical_refs(draft.refs)
    fields = (str(draft.kind), draft.actor, draft.purpose, draft.recipient, refs, draft.detail)
    return Entry(
        seq=seq,
        at=at,
        kind=str(draft.kind),
        actor=draft.actor,
        purpose=draft.purpose,
        recipient=draft.recipient,
        refs=refs,
        detail=draft.detail,
        prev_hash=prev_hash,
        hash=entry_hash(seq, at, fields, prev_hash),
    )


def seal_all(drafts: Sequence[Draft], head: Head, at: str) -> list[Entry]:
    """Chain a batch of drafts after `head`, in order."""
    entries: list[Entry] = []
    seq, prev = head.seq, head.hash
    for draft in drafts:
        seq += 1
        entry = seal(draft, seq, at, prev)
        entries.append(entry)
        prev = entry.hash
    return entries


def recomputed_hash(entry: Entry) -> str:
    """The hash an entry's stored content should have."""
    fields = (entry.kind, entry.actor, entry.purpose, entry.recipient, entry.refs, entry.detail)
    return entry_hash(entry.seq, entry.at, fields, entry.prev_hash)


def verify_chain(
    entries: Iterable[Entry], head: Head | None, anchors: Iterable[Head] = ()
) -> VerifyResult:
    """Check entries (in sequence order) link up, hash correctly, end at the head and
    hold every anchor (an anchored entry must be there with the anchored hash)."""
    expected = {anchor.seq: anchor.hash for anchor in anchors}
    expected_seq, prev_hash, count = FIRST_SEQ, GENESIS_HASH, 0
    for entry in entries:
        problem = _entry_problem(entry, expected_seq, prev_hash) or _anchor_problem(entry, expected)
        if problem is not None:
            return VerifyResult(False, count, min(entry.seq, expected_seq), problem)
        expected_seq, prev_hash, count = entry.seq + 1, entry.hash, count + 1
    beyond = [seq for seq in expected if seq >= expected_seq]
    if beyond:
        problem = f"the log ends before it, yet an anchor names entry {max(beyond)}"
        return VerifyResult(False, count, expected_seq, problem)
    return _check_head(head, expected_seq - 1, prev_hash, count)


def _anchor_problem(entry: Entry, anchors: dict[int, str]) -> str | None:
    anchored = anchors.get(entry.seq)
    if anchored is not None and anchored != entry.hash:
        return "its hash is not the one anchored for it (the chain was rewritten)"
    return None


def _entry_problem(entry: Entry, expected_seq: int, prev_hash: str) -> str | None:
    if entry.seq != expected_seq:
        return f"expected entry {expected_seq} next but found entry {entry.seq}"
    if entry.prev_hash != prev_hash:
        return "it does not follow from the entry before it"
    if recomputed_hash(entry) != entry.hash:
        return "its content does not match its hash"
    return None


def _check_head(head: Head | None, last_seq: int, last_hash: str, count: int) -> VerifyResult:
    head_seq = head.seq if head is not None else FIRST_SEQ - 1
    head_hash = head.hash if head is not None else GENESIS_HASH
    if head_seq > last_seq:
        return VerifyResult(
            False, count, last_seq + 1, f"the chain head records {head_seq} entries"
        )
    if head_seq < last_seq:
        return VerifyResult(
            False, count, head_seq + 1, "it lies beyond the chain head (an insertion)"
        )
    if head_hash != last_hash:
        return VerifyResult(False, count, last_seq, "it does not match the chain head")
    return VerifyResult(True, count)
