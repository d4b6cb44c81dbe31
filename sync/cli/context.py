"""Shared CLI plumbing: the App per invocation, option parsing, output helpers."""

from __future__ import annotations

import errno
import importlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sync.errors import UsageError
from sync.owner_only_files import owner_only_file

if TYPE_CHECKING:
    from sync.app import App

DB_HELP = (
    "Ledger URL (default: ARMS_SYNC_DATABASE_URL, else the settings file, "
    "else SQLite arms-sync.db here)."
)
# `worker` and `beat` run on the shared ledger only, so they have no SQLite default.
SHARED_LEDGER_COMMANDS = frozenset({"worker", "beat"})
SHARED_DB_HELP = (
    "The shared ledger's postgresql:// URL (default: ARMS_SYNC_DATABASE_URL, else the "
    "settings file)."
)
CONFIG_HELP = "Settings file (TOML; default: ARMS_SYNC_CONFIG)."
NEARER_WINS = " Given after the command, it wins over one given before."
CONFIG_PATH = click.Path(dir_okay=False, path_type=Path)


class CliState:
    """Per-invocation state: the common options, and the App built from them on demand."""

    def __init__(self, db: str | None = None, config: Path | None = None) -> None:
        self.db = db
        self.config = config
        self.keys_dir: Path | None = None
        self.ledger_must_exist = False  # refuse, not make, a missing ledger (file or tables)
        self._app: App | None = None

    @property
    def app(self) -> App:
        """The composition root for this invocation."""
        if self._app is None:
            # Imported here: only the commands that open the ledger pay for it.
            from sync.app import App
            from sync.settings import load_settings

            settings = load_settings(self.config, database_url=self.db, keys_dir=self.keys_dir)
            if self.ledger_must_exist:  # first: a file to read is missing, not "to be made"
                refuse_missing_ledger_file(settings.database_url)
            refuse_ledger_in_memory(settings.database_url)
            self._app = App(settings, makes_ledger=not self.ledger_must_exist)
        return self._app

    def operator(self, given: str | None = None) -> str | None:
        """The operator this command acts or looks as, checked before it does anything.

        `given` is the command's `--operator`; without it, ARMS_SYNC_OPERATOR or
        the settings file's `operator`. None when there is none. Every command
        that names an operator in the audit log calls this first, so a name the
        log could not hold is refused (exit 2) alike everywhere, saying where
        it came from.
        """
        from sync.audit.pipeline_hooks import checked_operator

        if given and given.strip():  # a blank option gives no operator, as if left out
            return checked_operator(given, "given with --operator")
        return checked_operator(self.app.settings.operator, _where_operator_is_set())

    def close(self) -> None:
        """Release what the App opened."""
        if self._app is not None:
            self._app.close()


pass_state = click.make_pass_decorator(CliState)
OPERATOR_VARIABLE = "ARMS_SYNC_OPERATOR"


def _where_operator_is_set() -> str:
    """Where the configured operator comes from: the variable (it wins), else the file."""
    in_environment = any(
        name.upper() == OPERATOR_VARIABLE and value.strip() for name, value in os.environ.items()
    )
    return f"set in {OPERATOR_VARIABLE}" if in_environment else "named in the settings file"


def refuse_ledger_in_memory(database_url: str) -> None:
    """Refuse (exit 2) an SQLite ledger in memory: a command's work would end with it."""
    from sync.ledger.location import is_memory_database, parse_ledger_url

    if is_memory_database(parse_ledger_url(database_url)):
        raise UsageError(
            "An SQLite ledger in memory keeps nothing once the command ends; name a file "
            "(sqlite:///arms-sync.db) or a PostgreSQL database."
        )


def refuse_missing_ledger_file(database_url: str) -> None:
    """Refuse (exit 2) an SQLite ledger file that does not exist or is empty, rather than
    make a ledger in it: only `run` and `demo` make one (the workers and beat need
    a PostgreSQL ledger, whose schema they create)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from sync.ledger.location import parse_ledger_url, sqlite_path

    try:  # not parse_ledger_url first: it says a file in a missing folder "cannot be made"
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        parse_ledger_url(database_url)  # refuses it in one sentence
        raise
    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        raise UsageError(
            f"There is no ledger file {path}: run `arms-sync run` first, or check --db."
        )
    if path.is_file() and path.stat().st_size == 0:
        raise UsageError(
            f"The ledger file {path} is empty: no run has made a ledger in it yet; "
            "run `arms-sync run` first, or check --db."
        )


class CommonOption(click.Option):
    """`--db` or `--config` on a command: fills the state the group's own options fill.

    It has no environment variable (the group's option reads it), so a value
    given after the command always wins over the environment and over a value
    given before the command; the innermost of several wins.
    """


def _take_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(CliState).db = value


def _take_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(CliState).config = value


def common_options(db_help: str = DB_HELP) -> list[click.Option]:
    """Fresh `--db` and `--config` options for one command."""
    return [
        CommonOption(
            ["--db"],
            metavar="URL",
            expose_value=False,
            callback=_take_db,
            help=db_help + NEARER_WINS,
        ),
        CommonOption(
            ["--config"],
            type=CONFIG_PATH,
            expose_value=False,
            callback=_take_config,
            help=CONFIG_HELP + NEARER_WINS,
        ),
    ]


COMMON_FLAGS = frozenset({"--db", "--config"})


def attach_common_options(command: click.Command) -> None:
    """Give `command` and every command under it `--db` and `--config`, once each."""
    clashing = [p for p in command.params if COMMON_FLAGS & set(p.opts)]
    if not clashing:
        shared = command.name in SHARED_LEDGER_COMMANDS
        command.params.extend(common_options(SHARED_DB_HELP if shared else DB_HELP))
    elif not all(isinstance(param, CommonOption) for param in clashing):
        raise RuntimeError(f"The command {command.name} defines --db or --config of its own.")
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            attach_common_options(sub)


class CommonOptionsGroup(click.Group):
    """A group whose commands, and theirs, take the common options after their name too."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Register `cmd` with the common options attached."""
        attach_common_options(cmd)
        super().add_command(cmd, name)


class LazyCommandsGroup(CommonOptionsGroup):
    """A group that imports a command's module only when the command is asked for.

    `lazy_commands` maps each command name to `"module:attribute"`.
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, loaded or not, in alphabetical order."""
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command of that name, its module imported on first use."""
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(_load_command(self.lazy_commands[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)


def _load_command(import_path: str) -> click.Command:
    module_name, attribute = import_path.split(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{import_path} is not a click command.")
    return command


KEYS_OPTION = click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Key directory (default: ARMS_SYNC_KEYS_DIR or the settings file).",
)


# Exactly `YYYY-MM-DD`, the form the message names and the feeds use
# (`sync.feeds.models.DATE_PATTERN`). `date.fromisoformat` alone also takes
# `20261128` and week dates such as `2026-W48-6`. `[0-9]`, not `\d`, which also
# matches non-ASCII digits.
DATE_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_FORM_REASON = "must be a date in the form YYYY-MM-DD."
NO_SUCH_DAY_REASON = "is in the form YYYY-MM-DD but names no day of the calendar."


class IsoDate(click.ParamType):  # type: ignore[type-arg]
    """A calendar date `YYYY-MM-DD`, in exactly that form."""

    name = "date"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        """Parse the option's value."""
        if isinstance(value, date):
            return value
        text = str(value)
        if DATE_FORM.fullmatch(text) is None:
            self.fail(DATE_FORM_REASON, param, ctx)
        try:
            return date.fromisoformat(text)
        except ValueError:  # 2026-11-31, 2026-02-29
            self.fail(f"{text} {NO_SUCH_DAY_REASON}", param, ctx)


ISO_DATE = IsoDate()


def any_case_choice(values: Iterable[str]) -> click.Choice[str]:
    """A choice an operator may type in any case (`POLICE`, `Police`); the command is
    given the value as listed."""
    return click.Choice(list(values), case_sensitive=False)


AGENCY_CHOICE = any_case_choice(["probation", "police"])


class OutputFile(click.Path):
    """`--out`: a file an output is written to. An empty name is refused (it names
    no file); `-` is standard output, as if `--out` were left out."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The file (a `Path`), or None for standard output."""
        if isinstance(value, str):
            if not value.strip():
                self.fail(
                    "needs a file name; leave it out to write to standard output.", param, ctx
                )
            if value == STANDARD_OUTPUT_NAME:
                return None
        return super().convert(value, param, ctx)


STANDARD_OUTPUT_NAME = "-"
OUTPUT_FILE = OutputFile()


def require_period(start: date | None, end: date | None) -> None:
    """Refuse a period (`--from`, `--to`) whose start is after its end, with exit 2."""
    if start is not None and end is not None and start > end:
        raise UsageError(f"The period's start (--from {start}) is after its end (--to {end}).")


def is_terminal() -> bool:
    """Whether progress may be drawn (stderr is a terminal)."""
    return sys.stderr.isatty()


WRITE_REFUSALS = {
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of its path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.EEXIST: "a file of that name is in the way",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
}


def cannot_write(path: Path | str, error: OSError) -> UsageError:
    """The usage error (exit 2) for an output the user named that cannot be written.

    `path` names it: a file's path, or words such as "the standard output".
    """
    reason = WRITE_REFUSALS.get(error.errno or 0)
    if reason is None:
        reason = os.strerror(error.errno).lower() if error.errno else "the system refused"
    return UsageError(f"Cannot write {path}: {reason}.")


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a failure to create or write the output `path` into `cannot_write`."""
    try:
        yield
    except OSError as error:
        raise cannot_write(path, error) from error


def output_folder(path: Path) -> Path:
    """Make the output folder `path` (and its parents) if needed, or refuse it (exit 2)."""
    with writing(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def write_lines(
    lines: Iterable[str], out: Path | None, disclosed: Callable[[Path], None] | None = None
) -> None:
    """Write text lines to a file (owner-only, whole: `owner_only_file`) or standard output.

    `disclosed` is told the file once it is in place (a disclosure is audited
    only for a file that was written).
    """
    if out is None:
        for line in lines:
            click.echo(line)
        return
    with writing(out), owner_only_file(out) as stream:
        for line in lines:
            stream.write((line + "\n").encode("utf-8"))
    if disclosed is not None:
        disclosed(out)
