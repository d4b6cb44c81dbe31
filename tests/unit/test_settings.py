"""Settings: both loaders turn a bad value into the same one-sentence error."""

from __future__ import annotations

import pytest

from sync.errors import ConfigurationError
from sync.settings import load_settings
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


def test_values_given_as_none_leave_the_defaults() -> None:
    assert load_settings(window_days=None) == load_settings()
    assert load_worker_settings(concurrency=None) == load_worker_settings()
