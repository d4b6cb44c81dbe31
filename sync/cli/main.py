"""The `arms-sync` entry point: global options, subcommands, and one-sentence errors.

Exit status follows `cli.md`: 0 success, 2 bad usage, configuration or
unreadable input, 1 any other failure. Errors are one sentence on stderr,
never a traceback and never personal data.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

import click

from sync.cli.context import CONFIG_HELP, CONFIG_PATH, DB_HELP, CliState, LazyCommandsGroup
from sync.cli.standard_output import StandardOutputFailure, mark_standard_output_failures
from sync.errors import ArmsSyncError, Interrupted

DEBUG_VARIABLE = "ARMS_SYNC_DEBUG"
VARIABLE_PREFIX = "ARMS_SYNC_"
TEST_VARIABLE_PREFIX = "ARMS_SYNC_TEST_"  # the test suite's own (its databases)
# Read by name rather than as settings: the settings file, tracebacks, test-only tasks.
OTHER_VARIABLES = frozenset({"ARMS_SYNC_CONFIG", DEBUG_VARIABLE, "ARMS_SYNC_WORKER_TEST_TASKS"})
EXIT_FAILURE = 1
EXIT_USAGE = 2
INTERRUPTED = (
    "Interrupted: what was stored before it is kept; run the command again to finish "
    "(a run carries on from the feeds it had stored)."
)
# Click 8.2+ raises this for a group given without a command, its message being the
# group's whole help; older versions print the help and exit 0 themselves.
NO_COMMAND_ERROR: type[click.UsageError] | None = getattr(
    click.exceptions, "NoArgsIsHelpError", None
)
DEBUG_FORMAT = "%(levelname)s %(name)s: %(message)s"
LINE_BREAK = re.compile(r"\s*\n\s*")
# Click's second sentence, joined to the first: errors are one sentence. Its choices
# follow a semicolon; a suggestion ("Did you mean …?") goes in brackets.
CHOICES_SENTENCE = re.compile(r"\. Choose from\b")
SUGGESTION_SENTENCE = re.compile(r"\. \(?D(id you mean [^?]*\?)\)?$")
SENTENCE_ENDS = (".", "!", "?")
log = logging.getLogger(__name__)


# Each command's module is imported only when the command runs (or help lists it):
# a command starts without loading what the others need.
COMMANDS = {
    "run": "sync.cli.run_cmds:run",
    "demo": "sync.cli.run_cmds:demo",
    "synth": "sync.cli.run_cmds:synth",
    "export": "sync.cli.data_cmds:export",
    "report": "sync.cli.data_cmds:report",
    "rejects": "sync.cli.data_cmds:rejects",
    "keys": "sync.cli.keys_cmd:keys",
    "ledger": "sync.cli.ledger_cmd:ledger",
    "envelope": "sync.cli.envelope_cmd:envelope",
    "gateway": "sync.cli.gateway_cmd:gateway",
    "reconcile": "sync.cli.reconcile_cmd:reconcile",
    "audit": "sync.cli.audit_cmd:audit",
    "worker": "sync.cli.worker_cmds:worker",
    "beat": "sync.cli.worker_cmds:beat",
    "status": "sync.cli.worker_cmds:status",
    "dead-letters": "sync.cli.worker_cmds:dead_letters",
}
# Commands that work on a ledger some run has made: given an SQLite ledger file
# that does not exist (a mistyped --db, the wrong folder), or a PostgreSQL
# database that holds no ledger, they refuse rather than make an empty ledger
# there and answer as if it had nothing to say.
NEEDS_EXISTING_LEDGER = frozenset(
    {"export", "report", "rejects", "reconcile", "audit", "ledger", "status", "dead-letters"}
)


@click.group(
    cls=LazyCommandsGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--db", envvar="ARMS_SYNC_DATABASE_URL", metavar="URL", help=DB_HELP)
@click.option("--config", envvar="ARMS_SYNC_CONFIG", type=CONFIG_PATH, help=CONFIG_HELP)
@click.pass_context
def cli(ctx: click.Context, db: str | None, config: Path | None) -> None:
    """arms-sync: decides which agency completes ARMS, and flags duplicate assessments.

    `--db` and `--config` may also follow any command; given in both places,
    the one after the command wins.
    """
    warn_of_unknown_variables()
    state = CliState(db, config)
    state.ledger_must_exist = ctx.invoked_subcommand in NEEDS_EXISTING_LEDGER
    ctx.obj = state
    ctx.call_on_close(state.close)


def warn_of_unknown_variables() -> None:
    """Warn (on stderr) of each `ARMS_SYNC_*` variable no setting reads: a misspelt
    `ARMS_SYNC_DATABSE_URL` would otherwise leave the default ledger in use unnoticed.

    A known name written in another case is named too: the settings take it,
    but the options that read a variable (`--config`, `--dir`, …) take only
    the upper-case name, so it may be in force for one command and not another.
    """
    given = sorted(
        name
        for name in os.environ
        if name.upper().startswith(VARIABLE_PREFIX)
        and not name.upper().startswith(TEST_VARIABLE_PREFIX)
    )
    unknown = _unknown({name.upper() for name in given})
    for name in given:
        if name.upper() in unknown:
            message = f"{name} is not a setting arms-sync knows; it is ignored{_meant(name)}."
        elif name != name.upper():
            message = (
                f"{name} is not written in upper case; write {name.upper()}, the only name "
                "every command reads."
            )
        else:
            continue
        click.echo(f"Warning: {message}", err=True)


def _unknown(given: set[str]) -> set[str]:
    """The upper-case variable names among `given` that nothing in arms-sync reads."""
    if not given - OTHER_VARIABLES:
        return set()
    from sync.settings import Settings

    unknown = given - OTHER_VARIABLES - _variables_of(Settings.model_fields)
    if unknown:  # rare: only then are the workers' settings looked at
        from workers.settings import WorkerSettings

        unknown -= _variables_of(WorkerSettings.model_fields)
    return unknown


def _meant(name: str) -> str:
    """`(did you mean ARMS_SYNC_KEYS_DIR?)` when one known variable is spelt much alike."""
    from sync.settings import Settings
    from sync.wording import did_you_mean
    from workers.settings import WorkerSettings

    known = {
        variable.removeprefix(VARIABLE_PREFIX)
        for variable in OTHER_VARIABLES
        | _variables_of(Settings.model_fields)
        | _variables_of(WorkerSettings.model_fields)
    }
    return did_you_mean(name.upper(), known, VARIABLE_PREFIX)


def _variables_of(fields: Iterable[str]) -> set[str]:
    return {VARIABLE_PREFIX + field.upper() for field in fields}


class OperatorFormatter(logging.Formatter):
    """A logged warning as the command's own warnings read: `Warning: …` (`Error: …`).

    The logger's name and a traceback are for whoever debugs, with ARMS_SYNC_DEBUG=1.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line headed by its level in words."""
        return f"{record.levelname.capitalize()}: {record.getMessage()}"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn every failure into an exit status and one sentence."""
    _configure_logging(debugging=bool(os.environ.get(DEBUG_VARIABLE)))
    mark_standard_output_failures()
    try:
        # Outside standalone mode Click returns an exit code a command asked for
        # (`ctx.exit(n)`, `--help`) instead of raising it; no command returns a value.
        outcome = cli.main(args=argv, prog_name="arms-sync", standalone_mode=False)
        sys.stdout.flush()  # a full disk under the last lines is refused here, not at exit
    except Exception as error:  # noqa: BLE001 - every failure (click.Abort too) in one sentence
        _exit_for(error)
    sys.exit(outcome if isinstance(outcome, int) else 0)


def _configure_logging(*, debugging: bool) -> None:
    """Warnings to stderr in the operator's words; arms-sync's own debug lines on request."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(DEBUG_FORMAT) if debugging else OperatorFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    # psycopg warns of errors it ignored while ending a pipeline whose connection was lost:
    # a second line for a failure the command reports in its own sentence.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    # SQLAlchemy's pool logs a cursor it could not close on a connection an interrupt or
    # a lost server broke: the command says what went wrong in its own sentence.
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    if debugging:
        # ARMS_SYNC_DEBUG=1 shows tracebacks of unexpected failures to the operator who
        # asked. Only arms-sync's own loggers: libraries at DEBUG (SQLAlchemy's statement
        # parameters, HTTP bodies) would print personal data.
        logging.getLogger("sync").setLevel(logging.DEBUG)


def _exit_for(error: BaseException) -> NoReturn:
    """Exit with the failure's status, saying what went wrong in one sentence."""
    if isinstance(error, click.Abort):
        if isinstance(error.__context__, KeyboardInterrupt):
            click.echo(INTERRUPTED, err=True)
            sys.exit(Interrupted.exit_code)
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILURE)
    if isinstance(error, Interrupted):
        click.echo(capitalised(str(error)), err=True)
        sys.exit(error.exit_code)
    if isinstance(error, click.ClickException):
        click.echo(f"Error: {one_sentence(error)}", err=True)
        sys.exit(EXIT_USAGE if isinstance(error, click.UsageError) else error.exit_code)
    if isinstance(error, ArmsSyncError):
        click.echo(f"Error: {capitalised(str(error))}", err=True)
        sys.exit(error.exit_code)
    if isinstance(error, StandardOutputFailure):
        unwritten = standard_output_refused(error)
        click.echo(f"Error: {unwritten}", err=True)
        sys.exit(unwritten.exit_code)
    _exit_unexpected(error)


def _exit_unexpected(error: BaseException) -> NoReturn:
    """The last resort: a ledger's refusal in its sentence, else the error's class alone
    (the stack on request, with ARMS_SYNC_DEBUG=1)."""
    from sync.ledger.location import ledger_failure

    refused = ledger_failure(error)
    if refused is not None:
        click.echo(f"Error: {refused}", err=True)
        sys.exit(refused.exit_code)
    log.debug("unexpected failure:\n%s", where_it_failed(error))
    click.echo(
        f"Error: arms-sync failed unexpectedly ({type(error).__name__}); "
        "run with ARMS_SYNC_DEBUG=1 for details.",
        err=True,
    )
    sys.exit(EXIT_FAILURE)


def standard_output_refused(error: StandardOutputFailure) -> ArmsSyncError:
    """The refusal (exit 2) of an output that could not be written, as for `--out FILE`.

    What the failed write left unwritten is set aside with the output, so that
    the interpreter's last flush does not fail again after the sentence.
    """
    from sync.cli.context import cannot_write

    sys.stdout = Path(os.devnull).open("w")  # noqa: SIM115 - stands in for stdout until exit
    return cannot_write("the standard output", error)


def one_sentence(error: click.ClickException) -> str:
    """Click's message as one sentence on one line, ending in a full stop; a missing command
    names the choices.

    Click breaks some messages over lines (the choices of a missing option), leaves
    some without a full stop, and gives a group's whole help when its command is
    missing.
    """
    ctx = getattr(error, "ctx", None)
    if NO_COMMAND_ERROR is not None and isinstance(error, NO_COMMAND_ERROR) and ctx is not None:
        group = ctx.command
        names = ", ".join(group.list_commands(ctx)) if isinstance(group, click.Group) else ""
        return f"Missing command: one of {names} (`{ctx.command_path} --help` describes them)."
    text = capitalised(LINE_BREAK.sub(" ", error.format_message()).strip())
    text = CHOICES_SENTENCE.sub("; choose from", text)
    text = SUGGESTION_SENTENCE.sub(lambda found: f" (d{found.group(1)}).", text)
    return text if text.endswith(SENTENCE_ENDS) else f"{text}."


def capitalised(sentence: str) -> str:
    """The sentence with a capital first letter.

    Errors raised deep down start in lower case, so that a caller can quote
    them inside a sentence of its own; shown on their own, they start a sentence.
    """
    return sentence[:1].upper() + sentence[1:]


def where_it_failed(error: BaseException) -> str:
    """The stack of an unexpected failure and its causes: places and exception classes only.

    Exception messages are left out: a database or validation error can quote
    the values it was given, and those may be personal data.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        parts.extend(f"  {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames)
        parts.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
        if current is not None:
            parts.append("caused by or while handling:")
    return "\n".join(parts)
