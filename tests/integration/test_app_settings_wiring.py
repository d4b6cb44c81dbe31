"""The App hands out what its settings name: the policy, the linker, the keys and the clock.

Real key directories made by the test, real key files and SQLite ledgers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sync.app import App, build_engine
from sync.core.decide import link_on_identifiers, link_probabilistically
from sync.crypto.at_rest import FieldCipher
from sync.crypto.key_file import create_data_key_file, read_data_key_file
from sync.crypto.keyring import data_key_path, generate_party, load_data_key
from sync.crypto.keys import Party
from sync.errors import ConfigurationError
from sync.settings import load_settings
from tests.unit.test_policy_file import FIRST_RULES

pytestmark = pytest.mark.integration


def _app(tmp_path: Path, **settings: object) -> App:
    return App(load_settings(None, database_url=f"sqlite:///{tmp_path / 'ledger.db'}", **settings))


def test_the_policy_takes_its_versions_and_training_dates_from_settings(tmp_path: Path) -> None:
    """The policy file's versions, the per-area dates and the default date all reach the
    policy the decisions use."""
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(
        f'[[version]]\nid = "first"\n{FIRST_RULES}\n'
        f'[[version]]\nid = "later"\neffective_from = 2027-04-01\n{FIRST_RULES}',
        encoding="utf-8",
    )
    app = _app(
        tmp_path,
        policy_file=policy_file,
        training_dates={"nw": "2017-08-31"},
        default_training_date="2016-03-31",
    )
    policy = app.policy
    assert [version.id for version in policy.policies] == ["first", "later"]
    assert policy.training_date("NW") == date(2017, 8, 31)
    assert policy.training_date("LONDON") == date(2016, 3, 31)
    assert policy.training_date(None) == date(2016, 3, 31)


@pytest.mark.parametrize(
    ("linker", "expected"),
    [("identifiers", link_on_identifiers), ("probabilistic", link_probabilistically)],
)
def test_the_linker_is_the_one_the_setting_names(
    tmp_path: Path, linker: str, expected: object
) -> None:
    """`linker = "identifiers"` links on identifiers alone; the default uses the matcher."""
    assert _app(tmp_path, linker=linker).linker is expected


def test_a_key_directory_that_is_missing_is_refused_by_name(tmp_path: Path) -> None:
    """A misspelt key directory is one sentence, not an empty key ring."""
    missing = tmp_path / "no-such-keys"
    with pytest.raises(ConfigurationError) as caught:
        _ = _app(tmp_path, keys_dir=missing).keyring
    assert str(caught.value) == f"The key directory {missing} does not exist."


def test_the_key_ring_is_the_hub_s_and_notices_need_one(tmp_path: Path) -> None:
    """The App reads the hub's own ring; without a key directory no notices are sealed."""
    keys = tmp_path / "keys"
    for party in (Party.HUB, Party.PROBATION):
        generate_party(keys, party)
    with_keys = _app(tmp_path, keys_dir=keys)
    try:
        assert with_keys.require_keyring().me is Party.HUB
        assert with_keys.outbox_keys is not None
    finally:
        with_keys.close()
    without = _app(tmp_path / "other")
    assert without.outbox_keys is None
    with pytest.raises(ConfigurationError, match="ARMS_SYNC_KEYS_DIR"):
        without.require_keyring()


def _pseudonym(app: App) -> str:
    return app.field_cipher.pseudonym("subject", "probation:X123:0")


def test_an_at_rest_key_file_wins_over_the_key_directory(tmp_path: Path) -> None:
    """The at-rest key file is the ledger's key even when a key directory is set too;
    without it, the key directory's data key is."""
    keys = tmp_path / "keys"
    generate_party(keys, Party.HUB)
    key_file = tmp_path / "at-rest.key"
    app = _app(tmp_path, keys_dir=keys, at_rest_key_file=key_file)
    try:
        assert app.at_rest_key_path(app.engine) == key_file
        minted = _pseudonym(app)
        expected = FieldCipher(read_data_key_file(key_file)).pseudonym(
            "subject", "probation:X123:0"
        )
        assert minted == expected
    finally:
        app.close()
    second = tmp_path / "second"
    second.mkdir()
    by_directory = _app(second, keys_dir=keys)
    try:
        assert by_directory.at_rest_key_path(by_directory.engine) == data_key_path(keys)
        expected = FieldCipher(load_data_key(keys)).pseudonym("subject", "probation:X123:0")
        assert _pseudonym(by_directory) == expected
    finally:
        by_directory.close()


def test_the_keys_stamp_changes_with_each_key_file_the_app_reads(tmp_path: Path) -> None:
    """A new ring, a new data key or a new at-rest key file each tell a worker to reload."""
    keys = tmp_path / "keys"
    generate_party(keys, Party.HUB)
    key_file = tmp_path / "at-rest.key"
    create_data_key_file(key_file)
    app = _app(tmp_path, keys_dir=keys, at_rest_key_file=key_file)
    before = app.keys_stamp()
    for changed in (keys / "ring.json", data_key_path(keys), key_file):
        content = changed.read_bytes()
        changed.unlink()
        changed.write_bytes(content + b"\n")
        after = app.keys_stamp()
        assert after != before, changed.name
        before = after


def test_today_is_the_app_clock_s_day_in_england() -> None:
    """Every date a command takes from "today" comes from the App's clock, as the day in
    England and Wales: in winter the UTC day, in summer ahead of it after 23:00 UTC."""
    winter = App(load_settings(None), clock=lambda: datetime(2026, 11, 28, 23, 30, tzinfo=UTC))
    summer = App(load_settings(None), clock=lambda: datetime(2026, 6, 28, 23, 30, tzinfo=UTC))
    assert (winter.today(), summer.today()) == (date(2026, 11, 28), date(2026, 6, 29))


def test_closing_the_app_closes_its_gateway_clients(tmp_path: Path) -> None:
    """After `close`, the next call builds a new client rather than reuse a closed one."""
    keys = tmp_path / "keys"
    generate_party(keys, Party.HUB)
    app = _app(tmp_path, keys_dir=keys, gateway_client_secret="synthetic-secret")
    first = app.gateway_client("https://police-gateway.example", "police")
    assert app.gateway_client("https://police-gateway.example/", "police") is first
    app.close()
    second = app.gateway_client("https://police-gateway.example", "police")
    try:
        assert second is not first
    finally:
        app.close()


def test_a_ledger_on_a_server_without_a_shared_at_rest_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every host must read the same key: a key of one process would lose the ledger."""
    monkeypatch.delenv("ARMS_SYNC_AT_REST_KEY_FILE", raising=False)
    monkeypatch.delenv("ARMS_SYNC_KEYS_DIR", raising=False)
    app = App(load_settings(None))
    engine = build_engine("postgresql://arms_sync@db.example:5432/arms_sync")
    try:
        with pytest.raises(ConfigurationError, match="needs an at-rest key every host shares"):
            app.at_rest_key_path(engine)
    finally:
        engine.dispose()
