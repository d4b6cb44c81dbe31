"""Shared CLI plumbing: the App per invocation, option parsing, output helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import click

from sync.app import App
from sync.settings import load_settings


class CliState:
    """Per-invocation state: the global options, and the App built from them on demand."""

    def __init__(self, db: str | None, config: Path | None) -> None:
        self.db = db
        self.config = config
        self.keys_dir: Path | None = None
        self._app: App | None = None

    @property
    def app(self) -> App:
        """The composition root for this invocation."""
        if self._app is None:
            self._app = App(
                load_settings(self.config, database_url=self.db, keys_dir=self.keys_dir)
            )
        return self._app

    def close(self) -> None:
        """Release what the App opened."""
        if self._app is not None:
            self._app.close()


pass_state = click.make_pass_decorator(CliState)

KEYS_OPTION = click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Key directory (default: ARMS_SYNC_KEYS_DIR or the settings file).",
)


class IsoDate(click.ParamType):  # type: ignore[type-arg]
    """A calendar date `YYYY-MM-DD`."""

    name = "date"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        """Parse the option's value."""
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail("must be a date in the form YYYY-MM-DD", param, ctx)


ISO_DATE = IsoDate()


def is_terminal() -> bool:
    """Whether progress may be drawn (stderr is a terminal)."""
    return sys.stderr.isatty()


def write_lines(lines: Iterable[str], out: Path | None) -> None:
    """Write text lines to a file or standard output."""
    if out is None:
        for line in lines:
            click.echo(line)
        return
    with out.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
