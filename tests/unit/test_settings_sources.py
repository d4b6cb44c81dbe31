"""Settings refusals name where the bad value came from, and say what to write instead.

A value from the environment is named by its variable, one from the settings
file by the file and its key. The file's TOML types are taken as written; the
environment's text is parsed as before. Never is the value itself repeated.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sync.errors import ConfigurationError
from sync.settings import Settings, load_settings
from workers.settings import load_worker_settings

SECRET_LOOKING = "hunter2abc"


@pytest.fixture(autouse=True)
def no_setting_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ARMS_SYNC_ variable of a service setting is set for the test."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"ARMS_SYNC_{name.upper()}", raising=False)


def _refusal(config: Path | None = None) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(config)
    return str(caught.value)


def _settings_file(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(f"[arms_sync]\n{table}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("variable", "value", "instruction"),
    [
        ("ARMS_SYNC_WINDOW_DAYS", SECRET_LOOKING, "write a whole number"),
        ("ARMS_SYNC_HOURS_PER_ASSESSMENT", SECRET_LOOKING, "write a number"),
        ("ARMS_SYNC_SEALED_FEEDS_ONLY", SECRET_LOOKING, "write true or false"),
        ("ARMS_SYNC_DEFAULT_TRAINING_DATE", "2016-02-30", "write it as a date, YYYY-MM-DD"),
        ("ARMS_SYNC_LINKER", SECRET_LOOKING, "Input should be 'identifiers' or 'probabilistic'"),
    ],
)
def test_a_bad_environment_value_is_named_by_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, instruction: str
) -> None:
    monkeypatch.setenv(variable, value)
    refusal = _refusal()
    assert refusal == f"Setting {variable} is invalid: {instruction}."
    assert value not in refusal


def test_a_bad_environment_value_wins_over_a_good_file_and_is_named_as_a_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARMS_SYNC_WINDOW_DAYS", "abc")
    path = _settings_file(tmp_path, "window_days = 90")
    assert _refusal(path) == "Setting ARMS_SYNC_WINDOW_DAYS is invalid: write a whole number."


def test_a_bad_training_date_in_the_environment_names_the_variable_and_the_area(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARMS_SYNC_TRAINING_DATES", '{"NW": "2016-02-30"}')
    assert _refusal() == (
        "Setting ARMS_SYNC_TRAINING_DATES at NW is invalid: write it as a date, YYYY-MM-DD."
    )


def test_a_bad_worker_variable_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' settings are environment variables only: no file key is named."""
    monkeypatch.setenv("ARMS_SYNC_CONCURRENCY", SECRET_LOOKING)
    with pytest.raises(ConfigurationError) as caught:
        load_worker_settings()
    assert str(caught.value) == "Setting ARMS_SYNC_CONCURRENCY is invalid: write a whole number."
    monkeypatch.setenv("ARMS_SYNC_CONCURRENCY", "2")
    monkeypatch.setenv("ARMS_SYNC_NIGHTLY_REPORT_TIME", "25:00")
    with pytest.raises(ConfigurationError) as caught:
        load_worker_settings()
    assert str(caught.value) == (
        "Setting ARMS_SYNC_NIGHTLY_REPORT_TIME is invalid: write a time of day, HH:MM."
    )


def test_an_explicit_worker_value_is_named_as_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARMS_SYNC_CONCURRENCY", "abc")
    with pytest.raises(ConfigurationError) as caught:
        load_worker_settings(concurrency=0)
    assert str(caught.value).startswith("Setting concurrency is invalid: ")


@pytest.mark.parametrize(
    ("table", "key", "instruction"),
    [
        ('sealed_feeds_only = "yes"', "sealed_feeds_only", "write true or false"),
        ("sealed_feeds_only = 1", "sealed_feeds_only", "write true or false"),
        ('gateway_allow_plain_http = "true"', "gateway_allow_plain_http", "write true or false"),
        ('window_days = "180"', "window_days", "write a whole number"),
        ("window_days = 180.0", "window_days", "write a whole number"),
        ('validation_processes = "2"', "validation_processes", "write a whole number"),
        ('hours_per_assessment = "6.0"', "hours_per_assessment", "write a number"),
        ("hours_per_assessment = false", "hours_per_assessment", "write a number"),
        (
            'default_training_date = "2016-02-30"',
            "default_training_date",
            "write it as a date, YYYY-MM-DD",
        ),
        ("operator = 5", "operator", "write it as text, in quotes"),
        ("report_dir = 5", "report_dir", "write a path, in quotes"),
    ],
)
def test_a_file_value_of_the_wrong_toml_type_is_refused_naming_the_file_and_key(
    tmp_path: Path, table: str, key: str, instruction: str
) -> None:
    """TOML has types: a switch in quotes or as 1, or a number in quotes, is refused."""
    path = _settings_file(tmp_path, table)
    refusal = _refusal(path)
    assert refusal == f"Setting {key} in the settings file {path} is invalid: {instruction}."
    assert table.partition(" = ")[2] not in refusal.removeprefix(
        f"Setting {key} in the settings file {path}"
    )


def test_the_file_takes_its_own_types_and_dates_as_toml_dates_or_text(tmp_path: Path) -> None:
    """Documented forms stay accepted: TOML numbers, switches, and a date or `YYYY-MM-DD`."""
    path = _settings_file(
        tmp_path,
        "window_days = 90\nhours_per_assessment = 6\nsealed_feeds_only = true\n"
        'default_training_date = "2017-08-31"\n'
        '[arms_sync.training_dates]\nNW = 2016-04-30\nLON = "2016-05-31"',
    )
    settings = load_settings(path)
    assert (settings.window_days, settings.hours_per_assessment) == (90, 6.0)
    assert settings.sealed_feeds_only is True
    assert settings.default_training_date == date(2017, 8, 31)
    assert settings.training_dates == {"NW": date(2016, 4, 30), "LON": date(2016, 5, 31)}


def test_the_environment_s_text_is_still_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables are text by nature: a switch and numbers are read from it as before."""
    monkeypatch.setenv("ARMS_SYNC_SEALED_FEEDS_ONLY", "yes")
    monkeypatch.setenv("ARMS_SYNC_WINDOW_DAYS", "180")
    monkeypatch.setenv("ARMS_SYNC_HOURS_PER_ASSESSMENT", "6")
    settings = load_settings()
    assert settings.sealed_feeds_only is True
    assert (settings.window_days, settings.hours_per_assessment) == (180, 6.0)


def test_a_file_value_the_environment_replaces_is_not_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variable replaces the file's value whole, as it did: only the value in force counts."""
    monkeypatch.setenv("ARMS_SYNC_WINDOW_DAYS", "90")
    assert load_settings(_settings_file(tmp_path, 'window_days = "180"')).window_days == 90


def test_a_misspelt_file_key_is_refused_with_the_key_it_is_spelt_like(tmp_path: Path) -> None:
    path = _settings_file(tmp_path, "windw_days = 180")
    assert _refusal(path).startswith(
        f"The settings file {path} names windw_days, which it cannot hold "
        "(did you mean window_days?): the example settings file in arms-sync's source, "
        "config/arms-sync.example.toml, lists what it can"
    )


@pytest.mark.parametrize("key", ["broker_url", "concurency", "pull_interval_seconds"])
def test_a_worker_setting_in_the_file_gets_no_suggestion_it_could_not_hold_either(
    tmp_path: Path, key: str
) -> None:
    """The workers' settings are never offered as what a file key meant."""
    assert "did you mean" not in _refusal(_settings_file(tmp_path, f"{key} = 1"))


def test_a_misspelt_secret_is_named_so_that_its_refusal_follows(tmp_path: Path) -> None:
    """Not another setting spelt alike: the secret's name, which the file then may not hold."""
    path = _settings_file(tmp_path, f'gateway_client_secrt = "{SECRET_LOOKING}"')
    refusal = _refusal(path)
    assert "(did you mean gateway_client_secret?)" in refusal
    assert SECRET_LOOKING not in refusal


def test_invalid_toml_is_refused_with_its_line_and_column_not_its_content(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f'[arms_sync]\nwindow_days = 180\noperator = "{SECRET_LOOKING}\n', encoding="utf-8"
    )
    refusal = _refusal(path)
    assert refusal == f"The settings file {path} is not valid TOML at line 3, column 23."
    assert SECRET_LOOKING not in refusal
