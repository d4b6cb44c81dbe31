"""`arms-sync run` against a reference gateway whose client credentials need form-encoding.

RFC 6749 (section 2.3.1) has the client id and secret form-urlencoded before
HTTP Basic; the gateway decodes them so. A secret with `+`, `%`, `:` and a
non-ASCII letter must let a run pull the feed and deliver its notices.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sync.crypto import Party
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.conftest import run_cli
from tests.e2e.test_workers import SEED, TODAY
from tests.integration.gateway_process import make_keys, start_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SPECIAL_ID = "hub id+1"
SPECIAL_SECRET = "pa+ss%20wörd:x"


def _run(
    folder: Path, probation: str, police: str, keys: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`arms-sync run --json` over the two feeds (files or gateway URLs), whatever its exit."""
    feeds = ["--probation-feed", probation, "--police-feed", police]
    return run_cli(
        "--db",
        f"sqlite:///{folder / 'hub.db'}",
        "run",
        *feeds,
        "--keys",
        str(keys),
        "--as-of",
        TODAY.isoformat(),
        "--json",
        cwd=folder,
        env=env,
        check=False,
    )


def test_a_run_with_a_special_character_secret_pulls_and_delivers(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=60, seed=SEED, today=TODAY))
    gateway = start_gateway(
        agency=Party.PROBATION,
        feed=feeds / "probation.jsonl",
        keys=keys,
        state=tmp_path / "gateway-state",
        cwd=tmp_path,
        client_id=SPECIAL_ID,
        client_secret=SPECIAL_SECRET,
    )
    try:
        credentials = {
            "ARMS_SYNC_GATEWAY_CLIENT_ID": SPECIAL_ID,
            "ARMS_SYNC_GATEWAY_CLIENT_SECRET": SPECIAL_SECRET,
        }
        result = _run(tmp_path, gateway.url, str(feeds / "police.jsonl"), keys, credentials)
    finally:
        assert gateway.stop() == 0
    assert result.returncode == 0, result.stderr[-500:]
    summary = json.loads(result.stdout)
    assert summary["feed_errors"] == {}
    assert summary["feeds"]["probation"]["read"] > 0
    assert summary["delivered"]["probation"]["notices"] > 0
    assert summary["delivered"]["probation"]["pending"] == 0


def test_each_gateway_is_given_only_the_credentials_it_issued(tmp_path: Path) -> None:
    """Neither agency's gateway learns a secret that would open the other's."""
    keys = tmp_path / "keys"
    make_keys(keys)
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=60, seed=SEED, today=TODAY))
    credentials = {
        "probation": ("hub-at-probation", "p-secret"),
        "police": ("arms-sync", "q-secret"),
    }
    gateways = {
        agency: start_gateway(
            agency=Party(agency),
            feed=feeds / f"{agency}.jsonl",
            keys=keys,
            state=tmp_path / f"{agency}-state",
            cwd=tmp_path,
            client_id=client_id,
            client_secret=secret,
        )
        for agency, (client_id, secret) in credentials.items()
    }
    try:
        own_credentials = {
            "ARMS_SYNC_GATEWAY_CLIENT_SECRET": "opens-neither",
            "ARMS_SYNC_PROBATION_GATEWAY_CLIENT_ID": credentials["probation"][0],
            "ARMS_SYNC_PROBATION_GATEWAY_CLIENT_SECRET": credentials["probation"][1],
            "ARMS_SYNC_POLICE_GATEWAY_CLIENT_SECRET": credentials["police"][1],
        }
        urls = (gateways["probation"].url, gateways["police"].url)
        result = _run(tmp_path, *urls, keys, own_credentials)
    finally:
        assert all(gateway.stop() == 0 for gateway in gateways.values())
    assert result.returncode == 0, result.stderr[-500:]
    summary = json.loads(result.stdout)
    assert summary["feed_errors"] == {}
    assert all(summary["feeds"][agency]["read"] > 0 for agency in credentials)
    assert all(summary["delivered"][agency]["pending"] == 0 for agency in credentials)
