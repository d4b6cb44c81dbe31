"""The feed a dead ingest letter names: where its retry reads, never a gateway's secrets.

`operations.md`: an ingest letter names the feed its cycle stored, a file by its
path and a gateway by its host and port only; other letters name no feed.
"""

from __future__ import annotations

import json

import pytest

from sync.distributed.work import (
    KIND_DECIDE,
    KIND_DELIVER,
    KIND_INGEST,
    TaskRef,
    feed_named,
)
from sync.gateway_clients import gateway_host_port

FILE = "/srv/exports/probation.jsonl"
SOURCES = json.dumps(
    {
        "feeds": {"probation": FILE, "police": "http://gw.police.test:8080/v1/feed"},
        "deliver": {"police": "https://gw.police.test/", "probation": "https://gw.probation/"},
    }
)


@pytest.mark.parametrize(
    ("agency", "named"),
    [("probation", FILE), ("police", "gateway gw.police.test:8080")],
)
def test_an_ingest_letter_names_its_feed(agency: str, named: str) -> None:
    assert feed_named(SOURCES, TaskRef(KIND_INGEST, 4, agency)) == named


@pytest.mark.parametrize("ref", [TaskRef(KIND_DELIVER, 4, "police"), TaskRef(KIND_DECIDE, 4, "0")])
def test_a_letter_of_another_stage_names_no_feed(ref: TaskRef) -> None:
    assert feed_named(SOURCES, ref) is None


def test_an_ingest_letter_of_an_agency_without_a_stored_feed_names_none() -> None:
    sources = json.dumps({"feeds": {"probation": FILE}, "deliver": {}})
    assert feed_named(sources, TaskRef(KIND_INGEST, 4, "police")) is None


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("https://gw.police.test:8443/v1", "gw.police.test:8443"),
        ("https://hub:secret@gw.police.test/v1?token=x", "gw.police.test"),
        ("https://hub:p@ss@gw.police.test:8443/", "gw.police.test:8443"),
        ("http://[::1]:9000/feed", "[::1]:9000"),
    ],
)
def test_a_gateway_is_named_by_host_and_port_alone(url: str, named: str) -> None:
    assert gateway_host_port(url) == named
