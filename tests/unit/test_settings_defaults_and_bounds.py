"""Settings: the documented defaults, each setting's range, and which source wins."""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from sync.errors import ConfigurationError
from sync.settings import Settings, load_settings
from tests.unit.test_settings import EXAMPLE_KEY, EXAMPLE_SETTINGS

# Settings the example file shows with a deployment's value rather than the default.
EXAMPLE_VALUES_NOT_DEFAULTS = frozenset(
    {
        "keys_dir",
        "at_rest_key_file",
        "operator",
        "validation_processes",
        "policy_file",
        "report_dir",
        "probation_gateway_client_id",
        "police_gateway_client_id",
        "gateway_ca_bundle",
    }
)


def _example_values() -> dict[str, Any]:
    """Every `key = value` line of the example's [arms_sync] table, commented out or not."""
    text = EXAMPLE_SETTINGS.read_text(encoding="utf-8").split("[arms_sync.training_dates]")[0]
    values: dict[str, Any] = {}
    for line in text.splitlines():
        if EXAMPLE_KEY.match(line):
            values.update(tomllib.loads(line.removeprefix("#").strip()))
    return values


@pytest.fixture
def no_setting_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ARMS_SYNC_ variable of a service setting is set for the test."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"ARMS_SYNC_{name.upper()}", raising=False)


@pytest.mark.usefixtures("no_setting_variables")
def test_the_example_file_shows_the_built_in_defaults() -> None:
    """An operator reading the example learns the value used when a setting is left out."""
    shown = {k: v for k, v in _example_values().items() if k not in EXAMPLE_VALUES_NOT_DEFAULTS}
    assert len(shown) >= 16
    defaults = load_settings()
    differing = {
        name: (value, getattr(defaults, name))
        for name, value in shown.items()
        if getattr(defaults, name) != value
    }
    assert differing == {}


@pytest.mark.usefixtures("no_setting_variables")
def test_the_defaults_documented_outside_the_example_hold() -> None:
    """README, docs/operations.md and the example's comments name these defaults."""
    settings = load_settings()
    assert settings.linker == "probabilistic"
    assert settings.report_dir == Path("reports")
    assert settings.validation_processes is None
    assert settings.gateway_ca_bundle is None
    assert settings.gateway_credentials("police") == ("arms-sync", None)


# (setting, a value refused, the values at the ends of its range that are accepted)
RANGES: list[tuple[str, object, tuple[object, ...]]] = [
    ("window_days", -1, (0, 3650)),
    ("validation_processes", -1, (0, 64)),
    ("validation_processes", 65, (0, 64)),
    ("hours_per_assessment", -0.5, (0.0, 0.25)),
    ("hours_per_assessment", 1000.5, (1000.0,)),
    ("hours_per_assessment", 1e308, (1000.0,)),
    ("hours_per_assessment", float("nan"), (6.0,)),
    ("http_timeout_seconds", 0.0, (0.001,)),
    ("http_timeout_seconds", float("inf"), (600.0,)),
    ("http_deadline_seconds", 0.0, (0.001,)),
    ("http_deadline_seconds", float("inf"), (3600.0,)),
    ("gateway_max_response_bytes", 1023, (1024,)),
    ("gateway_page_size", 0, (1, 10_000)),
    ("gateway_page_size", 10_001, (1, 10_000)),
    ("max_clock_skew_seconds", 0, (1,)),
    ("gateway_retry_attempts", 0, (1,)),
    ("gateway_retry_base_seconds", -0.1, (0.0,)),
    ("gateway_retry_base_seconds", float("inf"), (0.0,)),
    ("gateway_retry_max_seconds", -0.1, (0.0,)),
    ("gateway_retry_max_seconds", float("inf"), (0.0,)),
]


@pytest.mark.parametrize(("name", "refused", "accepted"), RANGES)
def test_a_value_outside_a_setting_s_range_is_refused_by_name(
    name: str, refused: object, accepted: tuple[object, ...]
) -> None:
    """Each end of the range is accepted; one step beyond it is one sentence naming the
    setting."""
    for value in accepted:
        assert getattr(load_settings(None, **{name: value}), name) == value
    with pytest.raises(ConfigurationError) as caught:
        load_settings(None, **{name: refused})
    assert str(caught.value).startswith(f"Setting {name} is invalid: ")


@pytest.mark.parametrize("name", ["validation_processes", "gateway_max_response_bytes"])
def test_true_where_a_number_goes_is_refused_even_for_an_optional_number(
    tmp_path: Path, name: str
) -> None:
    """`true` in a file is not read as 1, whether or not the number may be left out."""
    path = tmp_path / "s.toml"
    path.write_text(f"[arms_sync]\n{name} = true\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"Setting {name} in the settings file {path} is invalid: write a whole number."
    )


def test_true_or_false_are_read_where_a_switch_goes(tmp_path: Path) -> None:
    """The switches themselves take true and false from a file."""
    path = tmp_path / "s.toml"
    path.write_text(
        "[arms_sync]\ngateway_allow_plain_http = true\nsealed_feeds_only = true\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.gateway_allow_plain_http is True
    assert settings.sealed_feeds_only is True


@pytest.mark.parametrize(
    "day", [datetime(2016, 2, 29, 12, 0), "2016-02-29T00:00:00", "2016-02-29 extra"]
)
def test_a_training_date_with_more_than_a_date_is_refused(day: object) -> None:
    """A time of day or trailing text would otherwise be dropped without a word."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(None, default_training_date=day)
    assert str(caught.value) == (
        "Setting default_training_date is invalid: write it as a date, YYYY-MM-DD."
    )


def test_a_training_date_with_spaces_around_it_is_read() -> None:
    """Spaces an editor or a shell left around a date do not make it unreadable."""
    settings = load_settings(
        None, default_training_date=" 2017-08-31 ", training_dates={"NW": " 2016-04-30\t"}
    )
    assert settings.default_training_date == date(2017, 8, 31)
    assert settings.training_dates == {"NW": date(2016, 4, 30)}


def test_an_area_code_of_spaces_only_is_refused() -> None:
    """An area made of spaces matches no person record's area."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(None, training_dates={"  ": "2016-02-29"})
    assert str(caught.value) == "Setting training_dates is invalid: an area code is empty."


def test_training_dates_not_given_as_a_table_are_refused(tmp_path: Path) -> None:
    """`training_dates = "NW"` in a file is refused, not taken as no per-area dates."""
    path = tmp_path / "s.toml"
    path.write_text('[arms_sync]\ntraining_dates = "NW 2016-02-29"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(
        f"Setting training_dates in the settings file {path} is invalid: "
    )


@pytest.mark.usefixtures("no_setting_variables")
def test_the_environment_beats_the_file_and_explicit_values_beat_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File, then ARMS_SYNC_ variables, then command-line values: the later wins."""
    path = tmp_path / "s.toml"
    path.write_text(
        "[arms_sync]\nwindow_days = 30\nhours_per_assessment = 2.0\noperator = 'REVIEW'\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ARMS_SYNC_WINDOW_DAYS", "60")
    monkeypatch.setenv("ARMS_SYNC_HOURS_PER_ASSESSMENT", "3.0")
    settings = load_settings(path, hours_per_assessment=4.0, operator=None)
    assert settings.window_days == 60
    assert settings.hours_per_assessment == 4.0
    assert settings.operator == "REVIEW"


@pytest.mark.usefixtures("no_setting_variables")
def test_a_setting_the_file_leaves_out_keeps_its_default(tmp_path: Path) -> None:
    """A file that sets one setting leaves every other at its default, not at a zero."""
    path = tmp_path / "s.toml"
    path.write_text("window_days = 30\n", encoding="utf-8")
    settings = load_settings(path, operator=None)
    assert settings.window_days == 30
    assert settings.model_dump(exclude={"window_days"}) == Settings().model_dump(
        exclude={"window_days"}
    )


def test_settings_cannot_be_changed_once_loaded() -> None:
    """Settings are read once per process; nothing rewrites them under a running command."""
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.window_days = 1  # type: ignore[misc]


def test_each_agency_is_given_the_secret_its_own_gateway_issued() -> None:
    """With a secret per agency, neither gateway is sent the other's or the shared one."""
    settings = load_settings(
        None,
        gateway_client_secret="shared-secret",
        probation_gateway_client_secret="probation-secret",
        police_gateway_client_secret="police-secret",
        probation_gateway_client_id="probation-hub",
    )
    shown = {
        agency: (client_id, None if secret is None else secret.get_secret_value())
        for agency in ("probation", "police")
        for client_id, secret in [settings.gateway_credentials(agency)]
    }
    assert shown == {
        "probation": ("probation-hub", "probation-secret"),
        "police": ("arms-sync", "police-secret"),
    }


def test_a_folder_of_certificate_authorities_is_accepted(tmp_path: Path) -> None:
    """`gateway_ca_bundle` may name a folder of certificates as well as a PEM file."""
    folder = tmp_path / "gateway-cas"
    folder.mkdir()
    assert load_settings(None, gateway_ca_bundle=folder).gateway_ca_bundle == folder


@pytest.mark.usefixtures("no_setting_variables")
def test_the_report_marking_is_official_sensitive_unless_set_and_blank_prints_none() -> None:
    """docs/reports.md: the HTML report is marked OFFICIAL-SENSITIVE by default."""
    assert load_settings().report_marking == "OFFICIAL-SENSITIVE"
    assert load_settings(None, report_marking="  OFFICIAL  ").report_marking == "OFFICIAL"
    assert load_settings(None, report_marking=" ").report_marking == ""


@pytest.mark.parametrize("marking", ["OFFICIAL\nSENSITIVE", "OFFICIAL\x1b[2J", "X" * 61])
def test_a_marking_on_two_lines_with_control_characters_or_too_long_is_refused(
    marking: str,
) -> None:
    """It is printed on every page: one short line of plain text."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(None, report_marking=marking)
    assert str(caught.value) == (
        "Setting report_marking is invalid: it must be at most 60 characters of plain text "
        "on one line, such as OFFICIAL-SENSITIVE."
    )


def test_an_infinite_number_in_a_file_is_told_what_to_write(tmp_path: Path) -> None:
    """docs/operations.md: an infinite number of hours or seconds is refused, and the
    refusal says what to write."""
    path = tmp_path / "s.toml"
    path.write_text("[arms_sync]\nhttp_timeout_seconds = inf\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"Setting http_timeout_seconds in the settings file {path} is invalid: write a "
        "number, not inf or nan."
    )
