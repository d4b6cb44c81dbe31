"""Feed names as `run` takes them and as a distributed cycle stores them for its workers."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sync.app import App
from sync.errors import InputRefused, UsageError
from sync.settings import Settings
from sync.sources import feed_for_workers

GATEWAY = "https://probation-gateway.example:8443/"


def _app(tmp_path: Path, *, sealed_feeds_only: bool = False) -> App:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    return App(Settings(database_url=url, sealed_feeds_only=sealed_feeds_only))


def test_a_relative_feed_file_is_stored_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "probation.jsonl").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    stored = feed_for_workers("probation.jsonl", "probation", _app(tmp_path))

    assert stored == str((tmp_path / "probation.jsonl").resolve())


def test_a_gateway_url_is_stored_as_given(tmp_path: Path) -> None:
    assert feed_for_workers(GATEWAY, "probation", _app(tmp_path)) == GATEWAY


def test_a_missing_file_is_refused_naming_the_agency(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^The police feed file absent\.jsonl does not exist"):
        feed_for_workers(str(tmp_path / "absent.jsonl"), "police", _app(tmp_path))


def test_a_plain_file_is_refused_where_only_sealed_feeds_are_read(tmp_path: Path) -> None:
    plain = tmp_path / "probation.jsonl"
    plain.write_text("", encoding="utf-8")

    with pytest.raises(InputRefused, match="is not sealed"):
        feed_for_workers(str(plain), "probation", _app(tmp_path, sealed_feeds_only=True))
    assert not (tmp_path / "ledger.db").exists()


def test_a_compressed_file_is_refused_before_any_worker_reads_it(tmp_path: Path) -> None:
    """Checked when the cycle is started, in one sentence, rather than by each ingest
    attempt until the task is dead-lettered."""
    compressed = tmp_path / "probation.jsonl.gz"
    compressed.write_bytes(gzip.compress(b'{"type": "person"}\n'))

    with pytest.raises(UsageError, match=r"is compressed \(gzip\)"):
        feed_for_workers(str(compressed), "probation", _app(tmp_path))
