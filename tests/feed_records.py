"""Feed-v1 records for tests, with the fields every test fills the same way, and files of them.

Tests write small feeds by hand; these build the records (overriding any field
by keyword) and the `arms-sync run` arguments over a pair of feed files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from sync.feeds.files import PlainFileSource

STAMP = "2026-01-01T00:00:00Z"
AS_OF = "2026-11-28"
HOME_AREA = {"probation": "NW", "police": "LANC"}

Record = dict[str, object]


def person(agency: str, pid: str, **fields: object) -> Record:
    """A person record (a man in the agency's usual test area) with `fields` overriding."""
    return {
        "type": "person",
        "agency": agency,
        "id": pid,
        "surname": "EXAMPLE",
        "forenames": "WORKED",
        "date_of_birth": "1970-01-02",
        "gender": "M",
        "area": HOME_AREA[agency],
        "updated_at": STAMP,
        **fields,
    }


def licence(sid: str, pid: str, start: str, end: str | None, **fields: object) -> Record:
    """A probation licence for a sexual offence from `start` to `end`, with `fields` overriding."""
    return {
        "type": "supervision",
        "agency": "probation",
        "id": sid,
        "person_id": pid,
        "kind": "licence",
        "offence": "sexual",
        "start": start,
        "end": end,
        "updated_at": STAMP,
        **fields,
    }


def custody(cid: str, pid: str, start: str, end: str | None, **fields: object) -> Record:
    """A probation custody period from `start` to `end`, with `fields` overriding."""
    return _period("custody", "probation", cid, pid, start, end, **fields)


def registration(rid: str, pid: str, start: str, end: str | None, **fields: object) -> Record:
    """A police registration from `start` to `end`, with `fields` overriding."""
    return _period("registration", "police", rid, pid, start, end, **fields)


def _period(
    rtype: str, agency: str, rid: str, pid: str, start: str, end: str | None, **fields: object
) -> Record:
    return {
        "type": rtype,
        "agency": agency,
        "id": rid,
        "person_id": pid,
        "start": start,
        "end": end,
        "updated_at": STAMP,
        **fields,
    }


def completed_assessment(agency: str, aid: str, pid: str, day: str, **fields: object) -> Record:
    """An ARMS assessment started and completed on `day`, with `fields` overriding."""
    return {
        "type": "assessment",
        "agency": agency,
        "id": aid,
        "person_id": pid,
        "started_on": day,
        "completed_on": day,
        "status": "completed",
        "updated_at": STAMP,
        **fields,
    }


def merge(agency: str, mid: str, source: str, target: str, **fields: object) -> Record:
    """A merge record: the agency merged person `source` into person `target`."""
    return {
        "type": "merge",
        "agency": agency,
        "id": mid,
        "source_person_id": source,
        "target_person_id": target,
        "updated_at": STAMP,
        **fields,
    }


def deleted_person(agency: str, pid: str, updated_at: str) -> Record:
    """A person record deleted by its agency (the key alone, as a source may send it)."""
    return {
        "type": "person",
        "agency": agency,
        "id": pid,
        "deleted": True,
        "updated_at": updated_at,
    }


def write_feed(path: Path, records: Iterable[Mapping[str, object]]) -> Path:
    """`records` as a JSON Lines feed file at `path`."""
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def write_feeds(
    folder: Path, probation: Iterable[Mapping[str, object]], police: Iterable[Mapping[str, object]]
) -> tuple[Path, Path]:
    """Both agencies' feed files in `folder`: (probation.jsonl, police.jsonl)."""
    return (
        write_feed(folder / "probation.jsonl", probation),
        write_feed(folder / "police.jsonl", police),
    )


def write_sources(
    folder: Path, probation: Iterable[Mapping[str, object]], police: Iterable[Mapping[str, object]]
) -> dict[str, PlainFileSource]:
    """Both agencies' feed files written in `folder`, as the sources of an in-process run."""
    probation_feed, police_feed = write_feeds(folder, probation, police)
    return {"probation": PlainFileSource(probation_feed), "police": PlainFileSource(police_feed)}


def run_args(probation: Path, police: Path, as_of: str = AS_OF) -> list[str]:
    """The arguments of `arms-sync run` over a pair of feed files."""
    return [
        "run",
        "--probation-feed",
        str(probation),
        "--police-feed",
        str(police),
        "--as-of",
        as_of,
    ]
