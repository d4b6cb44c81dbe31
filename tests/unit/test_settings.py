"""Settings: both loaders turn a bad value into the same one-sentence error."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from sync.core.policy import PolicySettings
from sync.errors import ConfigurationError
from sync.settings import SECRET_SETTINGS, Settings, load_settings
from workers.settings import load_worker_settings


def test_a_bad_service_setting_is_named_without_its_value() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(window_days=-7)
    assert str(caught.value).startswith("Setting window_days is invalid: ")
    assert "-7" not in str(caught.value)


def test_a_bad_worker_setting_is_named_without_its_value() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_worker_settings(concurrency=-7)
    assert str(caught.value).startswith("Setting concurrency is invalid: ")
    assert "-7" not in str(caught.value)


@pytest.mark.parametrize(
    "name", ["pull_interval_seconds", "delivery_interval_seconds", "dispatch_interval_seconds"]
)
@pytest.mark.parametrize("endless", ["inf", "-inf", "nan"])
def test_an_interval_that_never_ends_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, endless: str
) -> None:
    """Beat and `status` compute with these: an infinite one must fail here, in one sentence."""
    monkeypatch.setenv(f"ARMS_SYNC_{name.upper()}", endless)
    with pytest.raises(ConfigurationError) as caught:
        load_worker_settings()
    assert str(caught.value) == (
        f"Setting ARMS_SYNC_{name.upper()} is invalid: write a number, not inf or nan."
    )


@pytest.mark.parametrize(
    "name", ["keys_dir", "at_rest_key_file", "policy_file", "gateway_ca_bundle"]
)
@pytest.mark.parametrize("empty", ["", "  "])
def test_a_path_set_empty_is_no_path(
    monkeypatch: pytest.MonkeyPatch, name: str, empty: str
) -> None:
    """`ARMS_SYNC_KEYS_DIR=` (a compose file's `${KEYS_DIR:-}`) is unset, not the working folder."""
    monkeypatch.setenv(f"ARMS_SYNC_{name.upper()}", empty)
    assert getattr(load_settings(), name) is None


def test_a_settings_file_set_empty_is_no_file_for_the_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARMS_SYNC_CONFIG", "")
    assert load_worker_settings().config is None


def test_one_feed_given_for_both_agencies_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARMS_SYNC_PROBATION_FEED", "/srv/feeds/probation.jsonl")
    monkeypatch.setenv("ARMS_SYNC_POLICE_FEED", "/srv/feeds/probation.jsonl")
    with pytest.raises(ConfigurationError) as caught:
        load_worker_settings()
    assert str(caught.value) == (
        "ARMS_SYNC_PROBATION_FEED and ARMS_SYNC_POLICE_FEED "
        "name the same feed; give each agency's own."
    )
    monkeypatch.setenv("ARMS_SYNC_POLICE_FEED", "/srv/feeds/police.jsonl")
    assert load_worker_settings().feeds() == {
        "probation": "/srv/feeds/probation.jsonl",
        "police": "/srv/feeds/police.jsonl",
    }


def test_values_given_as_none_leave_the_defaults() -> None:
    assert load_settings(window_days=None) == load_settings()
    assert load_worker_settings(concurrency=None) == load_worker_settings()


def test_training_dates_are_found_whatever_the_case_of_the_area() -> None:
    settings = load_settings(training_dates={" nw ": "2017-08-31"})
    assert settings.training_dates == {"NW": date(2017, 8, 31)}
    policy = PolicySettings(training_dates={"nw": date(2017, 8, 31)})
    assert policy.training_date("NW") == date(2017, 8, 31)
    assert policy.training_date(" Nw ") == date(2017, 8, 31)
    assert policy.training_date("LON") == policy.default_training_date


def test_one_area_given_two_training_dates_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(training_dates={"NW": "2017-08-31", "nw": "2018-01-01"})
    assert str(caught.value) == (
        "Setting training_dates is invalid: area NW is given two different training dates."
    )
    assert load_settings(training_dates={"NW": "2017-08-31", "nw": "2017-08-31"})


def test_an_environment_table_that_is_not_json_is_named_without_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARMS_SYNC_TRAINING_DATES", "NW=2017-08-31")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "Setting ARMS_SYNC_TRAINING_DATES cannot be read: a list or table must be JSON."
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe\x00binary", "is not UTF-8 text."),
        (b"window_days = \n", "is not valid TOML at line 1, column 15."),
        (b"arms_sync = 5\n", "has an arms_sync entry that is not a table."),
        (
            b"window_days = 30\n[arms_sync]\noperator = 'jsmith'\n",
            "names window_days outside its [arms_sync] table, where it would be ignored; "
            "move it into the table.",
        ),
    ],
)
def test_a_settings_file_that_cannot_be_used_is_one_sentence(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert str(caught.value) == f"The settings file {path} {problem}"


def test_a_settings_file_that_is_a_folder_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(tmp_path)
    assert str(caught.value) == f"The settings file {tmp_path} is a folder."


def test_a_settings_file_an_editor_began_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xef\xbb\xbf[arms_sync]\nwindow_days = 90\n")
    assert load_settings(path).window_days == 90


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        (
            "[arms_sync.training_dates]\nNW = 2016-02-29\nwindow_days = 30\n",
            "training_dates",
            "window_days is a setting, not an area code: it stands after the "
            "[arms_sync.training_dates] table; move it above that table.",
        ),
        (
            '[arms_sync.training_dates]\n"" = 2016-02-29\n',
            "training_dates",
            "an area code is empty.",
        ),
        (
            "[arms_sync.training_dates]\nNW = 1456704000\n",
            "training_dates",
            "write it as a date, YYYY-MM-DD.",
        ),
        (
            '[arms_sync.training_dates]\nNW = "2016-02-30"\n',
            "training_dates.NW",
            "write it as a date, YYYY-MM-DD.",
        ),
        (
            "[arms_sync]\ndefault_training_date = 2016-02-29T00:00:00Z\n",
            "default_training_date",
            "write it as a date, YYYY-MM-DD.",
        ),
        (
            "[arms_sync]\ndefault_training_date = 20160229\n",
            "default_training_date",
            "write it as a date, YYYY-MM-DD.",
        ),
        (
            "[arms_sync]\nwindow_days = true\n",
            "window_days",
            "write a whole number.",
        ),
        (
            "[arms_sync]\nhours_per_assessment = inf\n",
            "hours_per_assessment",
            "write a number, not inf or nan.",
        ),
        (
            '[arms_sync]\ngateway_ca_bundle = "no-such/ca.pem"\n',
            "gateway_ca_bundle",
            "there is no file or folder no-such/ca.pem.",
        ),
    ],
)
def test_a_setting_that_would_be_misread_is_refused_by_name(
    tmp_path: Path, table: str, key: str, problem: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert str(caught.value) == f"Setting {key} in the settings file {path} is invalid: {problem}"


def test_a_ca_bundle_without_a_certificate_is_refused_by_name(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("a note where the authority's certificate should be\n", encoding="utf-8")
    path = tmp_path / "s.toml"
    path.write_text(f'[arms_sync]\ngateway_ca_bundle = "{bundle}"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"Setting gateway_ca_bundle in the settings file {path} is invalid: "
        f"{bundle} holds no certificate in PEM form."
    )


def test_dates_and_numbers_as_the_environment_gives_them_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARMS_SYNC_WINDOW_DAYS", "90")
    monkeypatch.setenv("ARMS_SYNC_DEFAULT_TRAINING_DATE", "2017-08-31")
    monkeypatch.setenv("ARMS_SYNC_TRAINING_DATES", '{"nw": "2016-02-29"}')
    settings = load_settings()
    assert settings.window_days == 90
    assert settings.default_training_date == date(2017, 8, 31)
    assert settings.training_dates == {"NW": date(2016, 2, 29)}


@pytest.mark.parametrize("name", ["broker_url", "pull_interval_seconds", "databse_url"])
def test_a_settings_file_naming_what_it_cannot_hold_is_refused_by_name(
    tmp_path: Path, name: str
) -> None:
    """The workers' broker and schedule are environment settings: a file that names them,
    or a misspelt setting, is refused rather than silently ignored."""
    path = tmp_path / "s.toml"
    path.write_text(f'[arms_sync]\n{name} = "redis://broker.internal:6379/3"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(
        f"The settings file {path} names {name}, which it cannot hold"
    )
    assert "broker.internal" not in str(caught.value)


def test_each_gateway_credential_falls_back_on_its_own_and_empty_is_not_given() -> None:
    settings = load_settings(
        None,
        gateway_client_id="shared-id",
        gateway_client_secret="shared-secret",
        police_gateway_client_id="police-id",
        probation_gateway_client_secret="",
    )
    police_id, police_secret = settings.gateway_credentials("police")
    probation_id, probation_secret = settings.gateway_credentials("probation")
    assert (police_id, probation_id) == ("police-id", "shared-id")
    assert police_secret is not None
    assert police_secret.get_secret_value() == "shared-secret"
    assert probation_secret is not None
    assert probation_secret.get_secret_value() == "shared-secret"
    assert load_settings(None, gateway_client_secret="").gateway_credentials("police")[1] is None


EXAMPLE_SETTINGS = Path(__file__).resolve().parents[2] / "config" / "arms-sync.example.toml"
EXAMPLE_KEY = re.compile(r"^#? ?([a-z_]+) = ", re.MULTILINE)


def test_the_example_settings_file_names_every_setting_but_the_secrets() -> None:
    named = set(EXAMPLE_KEY.findall(EXAMPLE_SETTINGS.read_text(encoding="utf-8")))
    expected = set(Settings.model_fields) - SECRET_SETTINGS - {"training_dates"}
    assert expected - named == set()
    assert named & SECRET_SETTINGS == set()
    assert "[arms_sync.training_dates]" in EXAMPLE_SETTINGS.read_text(encoding="utf-8")


@pytest.mark.parametrize("secret", sorted(SECRET_SETTINGS))
def test_a_settings_file_holding_a_secret_is_refused_without_its_value(
    tmp_path: Path, secret: str
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f'[arms_sync]\n{secret} = "hunter2-do-not-print"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as refused:
        load_settings(config)
    assert secret in str(refused.value)
    assert "environment" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_the_specs_defaults_hold_when_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ARMS_SYNC_WINDOW_DAYS", "ARMS_SYNC_DEFAULT_TRAINING_DATE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.window_days == 180  # duplicates.md: "default 180 days"
    assert settings.default_training_date == date(2016, 2, 29)  # ownership-policy.md's T
