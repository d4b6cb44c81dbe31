"""`ARMS_SYNC_SEALED_FEEDS_ONLY`: a deployment that reads signed feeds only.

A plain feed file says nothing of who wrote it, so anyone who can write the
feed location could speak for an agency. With the setting, a plain file is
refused whole (exit 2, nothing kept) while sealed files are read; without it,
a plain file is read and its collection audit entry says it was unsigned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feed_records import person, run_args, write_feeds

pytestmark = pytest.mark.e2e

ONLY_SEALED = {"ARMS_SYNC_SEALED_FEEDS_ONLY": "true"}


def _feeds(folder: Path) -> tuple[Path, Path]:
    return write_feeds(folder, [person("probation", "X000001")], [person("police", "LAN-1")])


def _keys(folder: Path) -> Path:
    keys = folder / "keys"
    for party in ("hub", "probation", "police"):
        run_cli("keys", "generate", "--party", party, "--dir", str(keys), cwd=folder)
    return keys


def _sealed(plain: Path, agency: str, keys: Path) -> Path:
    sealed = plain.with_name(f"{agency}.sealed.jsonl")
    seal = ["envelope", "seal", "--from", agency, "--to", "hub", "--keys", str(keys)]
    run_cli(*seal, str(plain), str(sealed), cwd=plain.parent)
    return sealed


def test_a_plain_feed_is_refused_whole_when_only_sealed_feeds_are_read(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    probation, police = _feeds(tmp_path)
    env = {**ONLY_SEALED, "ARMS_SYNC_KEYS_DIR": str(keys)}

    refused = run_cli(
        *run_args(probation, _sealed(police, "police", keys)), cwd=tmp_path, env=env, check=False
    )

    assert refused.returncode == 2
    assert refused.stderr == (
        "Error: The probation feed file probation.jsonl is not sealed, and this deployment "
        "reads sealed feeds only (the sealed_feeds_only setting).\n"
    )
    assert not (tmp_path / "arms-sync.db").exists()


def test_sealed_feeds_are_read_when_only_sealed_feeds_are_read(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    probation, police = _feeds(tmp_path)
    env = {**ONLY_SEALED, "ARMS_SYNC_KEYS_DIR": str(keys)}
    sealed = (_sealed(probation, "probation", keys), _sealed(police, "police", keys))

    summary = json.loads(run_cli(*run_args(*sealed), "--json", cwd=tmp_path, env=env).stdout)

    assert {agency: counts["accepted"] for agency, counts in summary["feeds"].items()} == {
        "probation": 1,
        "police": 1,
    }
    details = _collection_details(tmp_path, env)
    assert sorted(detail.split(":")[0] for detail in details) == sorted(p.name for p in sealed)


def _collection_details(folder: Path, env: dict[str, str] | None = None) -> list[str]:
    """The `detail` of each collection entry of the audit log."""
    exported = run_cli("audit", "export", cwd=folder, env=env).stdout
    entries = map(json.loads, exported.splitlines())
    return [entry["detail"] for entry in entries if entry["kind"] == "collection"]


def test_a_plain_feed_read_is_audited_as_unsigned(tmp_path: Path) -> None:
    probation, police = _feeds(tmp_path)
    run_cli(*run_args(probation, police), cwd=tmp_path)
    details = _collection_details(tmp_path)
    assert sorted(details) == [
        "police.jsonl (plain file, unsigned): "
        "accepted 1, other_agency 0, read 1, rejected 0, units 1, warnings 0",
        "probation.jsonl (plain file, unsigned): "
        "accepted 1, other_agency 0, read 1, rejected 0, units 1, warnings 0",
    ]
