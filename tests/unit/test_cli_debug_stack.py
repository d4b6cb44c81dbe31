"""ARMS_SYNC_DEBUG shows where an unexpected failure happened, never what it was told."""

from __future__ import annotations

import logging

import pytest

from sync.cli.main import DEBUG_VARIABLE, EXIT_FAILURE, cli, main, where_it_failed


def _fail_with_personal_data() -> None:
    try:
        raise KeyError("1972-03-20")
    except KeyError as error:
        raise ValueError("JONES Simon, PNC 2002/0073319Z") from error


def test_the_stack_names_places_and_classes_but_no_message() -> None:
    with pytest.raises(ValueError, match="JONES") as caught:
        _fail_with_personal_data()

    stack = where_it_failed(caught.value)

    assert "builtins.ValueError" in stack
    assert "builtins.KeyError" in stack
    assert "in _fail_with_personal_data" in stack
    for secret in ("JONES", "1972-03-20", "2002/0073319Z"):
        assert secret not in stack


def test_the_debug_switch_prints_the_stack_of_an_unexpected_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        _fail_with_personal_data()

    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    monkeypatch.setattr(cli, "main", broken)
    with caplog.at_level(logging.DEBUG, logger="sync"), pytest.raises(SystemExit) as done:
        main(["export", "timeline"])

    assert done.value.code == EXIT_FAILURE
    assert "in _fail_with_personal_data" in caplog.text
    for secret in ("JONES", "1972-03-20", "2002/0073319Z"):
        assert secret not in caplog.text
