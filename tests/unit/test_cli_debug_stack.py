"""ARMS_SYNC_DEBUG shows where an unexpected failure happened, never what it was told."""

from __future__ import annotations

import logging
from collections.abc import Iterator

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


@pytest.fixture
def quiet_sync_logger() -> Iterator[None]:
    """The package's logger at its usual level, put back as it was afterwards.

    `main` raises it to DEBUG when asked to, for the rest of the process.
    """
    logger = logging.getLogger("sync")
    before = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(before)


@pytest.mark.usefixtures("quiet_sync_logger")
@pytest.mark.parametrize("switched_on", [True, False], ids=["debug", "no-debug"])
def test_only_the_debug_switch_prints_the_stack_of_an_unexpected_failure(
    switched_on: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With ARMS_SYNC_DEBUG the stack is logged (places, no messages); without it, nothing."""

    def broken(*_args: object, **_kwargs: object) -> None:
        _fail_with_personal_data()

    if switched_on:
        monkeypatch.setenv(DEBUG_VARIABLE, "1")
    else:
        monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    monkeypatch.setattr(cli, "main", broken)
    with pytest.raises(SystemExit) as done:
        main(["export", "timeline"])

    assert done.value.code == EXIT_FAILURE
    assert ("in _fail_with_personal_data" in caplog.text) is switched_on
    for secret in ("JONES", "1972-03-20", "2002/0073319Z"):
        assert secret not in caplog.text
