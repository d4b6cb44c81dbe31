"""Refusals with exit 2: bad usage, configuration and outputs that cannot be written.

Each is one sentence on stderr starting `Error:`, with no traceback, no
personal data and no password from a ledger URL (`spec/cli.md`).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from sync.app import App
from sync.reports.models import KNOWN_KINDS
from sync.settings import Settings
from tests.conftest import CLI, POSTGRES_ADMIN_URL
from tests.e2e.cli_ledger import empty, ledger, refusal, run_args
from tests.e2e.test_reconcile_cli import arms_sync
from tests.feed_records import run_args as feed_run_args
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.e2e

PASSWORD = "pw-never-shown"  # in the test ids, so fixed; no real credential
__all__ = ["empty", "ledger"]  # fixtures from tests.e2e.cli_ledger


@pytest.mark.parametrize(
    "command",
    [("report", "duplicates", "--format", "json"), ("audit", "export")],
    ids=["report duplicates", "audit export"],
)
def test_a_period_whose_start_is_after_its_end_is_refused(
    ledger: str, empty: Path, command: tuple[str, ...]
) -> None:
    period = ("--from", "2025-02-01", "--to", "2025-01-01")
    result = arms_sync("--db", ledger, *command, *period, cwd=empty, check=False)
    assert refusal(result) == (
        "Error: The period's start (--from 2025-02-01) is after its end (--to 2025-01-01)."
    )


@pytest.mark.parametrize("blank", ["", "  "], ids=["empty", "spaces"])
def test_a_blank_area_is_refused_not_read_as_every_area(
    ledger: str, empty: Path, blank: str
) -> None:
    args = ("report", "duplicates", "--format", "json", "--area", blank)
    result = arms_sync("--db", ledger, *args, cwd=empty, check=False)
    assert result.returncode == 2
    assert refusal(result) == (
        "Error: --area needs an area code, such as NW; leave it out for every area."
    )
    assert result.stdout == ""


def test_an_unknown_flag_kind_is_refused_listing_the_known_ones(ledger: str, empty: Path) -> None:
    args = ("report", "duplicates", "--format", "json", "--kind", "bogus")
    message = refusal(arms_sync("--db", ledger, *args, cwd=empty, check=False))
    assert "bogus" in message
    assert all(kind in message for kind in KNOWN_KINDS), message


@pytest.mark.parametrize(
    "url",
    [
        "bogus://x",
        f"bogus://u:{PASSWORD}@127.0.0.1/x",
        f"postgresql://u:{PASSWORD}@127.0.0.1:notaport/x",
        f"not a url {PASSWORD}",
        f"mysql://u:{PASSWORD}@127.0.0.1/x",
        "",
    ],
)
def test_an_unusable_ledger_url_is_a_configuration_error(empty: Path, url: str) -> None:
    result = arms_sync("--db", url, "export", "timeline", cwd=empty, check=False)
    message = refusal(result)
    assert "ledger" in message.lower()
    assert PASSWORD not in result.stderr + result.stdout


@pytest.mark.parametrize("name", ["arms-sync.db", "ledgers/hub.sqlite3"])
def test_a_bare_ledger_file_name_is_refused_with_its_sqlite_url(empty: Path, name: str) -> None:
    result = arms_sync("--db", name, "export", "timeline", cwd=empty, check=False)
    assert refusal(result) == (
        f"Error: The ledger URL is not a database URL; for the SQLite file {name} "
        f"write sqlite:///{name}, or use postgresql://HOST/NAME."
    )


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_ledger_in_memory_is_refused_as_keeping_nothing(empty: Path, url: str) -> None:
    result = arms_sync("--db", url, *run_args(empty), cwd=empty, check=False)
    assert result.returncode == 2
    assert refusal(result) == (
        "Error: An SQLite ledger in memory keeps nothing once the command ends; name a file "
        "(sqlite:///arms-sync.db) or a PostgreSQL database."
    )


def test_an_unreachable_ledger_server_is_one_sentence_without_the_password(empty: Path) -> None:
    url = f"postgresql://u:{PASSWORD}@127.0.0.1:1/x"
    result = arms_sync("export", "timeline", "--db", url, cwd=empty, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert PASSWORD not in result.stderr + result.stdout
    assert result.stderr.strip() == (
        "Error: No database server answers for the ledger database x on 127.0.0.1:1; start "
        "it, or correct the host and port in the URL."
    )


def test_a_ledger_database_the_server_does_not_hold_is_a_configuration_error(
    empty: Path,
) -> None:
    server = make_url(POSTGRES_ADMIN_URL)
    missing = f"arms_sync_absent_{secrets.token_hex(4)}"
    url = server.set(database=missing).render_as_string(hide_password=False)
    result = arms_sync("export", "timeline", "--db", url, cwd=empty, check=False)
    assert refusal(result) == (
        f"Error: The ledger database {missing} on {server.host}:{server.port} does not exist; "
        "create that database, or correct its name in the URL."
    )


def test_a_login_the_ledger_server_refuses_is_a_configuration_error_naming_no_user(
    empty: Path,
) -> None:
    server = make_url(POSTGRES_ADMIN_URL)
    stranger = f"arms_sync_nobody_{secrets.token_hex(4)}"
    url = server.set(username=stranger, password=PASSWORD).render_as_string(hide_password=False)
    result = arms_sync("export", "timeline", "--db", url, cwd=empty, check=False)
    assert refusal(result) == (
        f"Error: The ledger database {server.database} on {server.host}:{server.port} "
        "refused the login; check the user name and password in the URL."
    )
    assert stranger not in result.stderr + result.stdout


def test_a_ledger_to_make_in_a_missing_folder_is_refused(empty: Path, tmp_path: Path) -> None:
    folder = tmp_path / "missing" / "dir"
    args = feed_run_args(*write_feeds(empty))
    result = arms_sync("--db", f"sqlite:///{folder / 'l.db'}", *args, cwd=empty, check=False)
    message = refusal(result)
    assert f"the folder {folder} does not exist" in message
    assert not folder.exists()


def test_a_ledger_file_that_is_not_a_database_is_refused(empty: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not a database\n" * 100)
    text.chmod(0o644)
    result = arms_sync("export", "timeline", "--db", f"sqlite:///{text}", cwd=empty, check=False)
    assert "not an SQLite database" in refusal(result)
    assert stat.S_IMODE(text.stat().st_mode) == 0o644  # not a ledger: its mode is not ours


OUT_COMMANDS = [
    ("export", "ownership"),
    ("export", "timeline"),
    ("export", "links"),
    ("report", "duplicates", "--format", "csv"),
    ("audit", "export"),
]


@pytest.mark.parametrize("command", OUT_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_output_file_in_a_missing_folder_is_refused(
    ledger: str, empty: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    out = tmp_path / "missing" / "x.jsonl"
    result = arms_sync("--db", ledger, *command, "--out", str(out), cwd=empty, check=False)
    assert refusal(result) == f"Error: Cannot write {out}: the folder does not exist."


@pytest.mark.parametrize("command", [("synth", "--subjects", "10"), ("demo", "--subjects", "10")])
def test_an_output_folder_that_cannot_be_made_is_refused(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = blocker / "sub"
    result = arms_sync(*command, "--out", str(out), cwd=tmp_path, check=False)
    assert str(out) in refusal(result)


def test_an_envelope_output_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    keys = str(tmp_path / "keys")
    for party in ("probation", "hub"):
        arms_sync("keys", "generate", "--party", party, "--dir", keys, cwd=tmp_path)
    plain = tmp_path / "feed.jsonl"
    plain.write_text('{"type": "person", "id": "X1"}\n')
    out = tmp_path / "missing" / "feed.sealed"
    result = arms_sync(
        "envelope",
        "seal",
        "--keys",
        keys,
        "--from",
        "probation",
        "--to",
        "hub",
        str(plain),
        str(out),
        cwd=tmp_path,
        check=False,
    )
    assert refusal(result) == f"Error: Cannot write {out}: the folder does not exist."


def test_an_output_file_named_like_a_folder_is_refused(ledger: str, empty: Path) -> None:
    out = empty / "x.jsonl"
    out.mkdir()
    result = arms_sync("--db", ledger, "export", "links", "--out", str(out), cwd=empty, check=False)
    assert str(out) in refusal(result)


def _disclosures(ledger: str, cwd: Path) -> int:
    entries = arms_sync("--db", ledger, "audit", "export", cwd=cwd).stdout.splitlines()
    return sum(json.loads(line)["kind"] == "disclosure" for line in entries)


def test_a_report_that_cannot_be_written_is_not_logged_as_disclosed(
    ledger: str, empty: Path
) -> None:
    before = _disclosures(ledger, empty)
    out = empty / "missing" / "report.html"
    args = ("report", "duplicates", "--format", "html", "--out", str(out))
    refusal(arms_sync("--db", ledger, *args, cwd=empty, check=False))
    assert _disclosures(ledger, empty) == before


def test_a_key_directory_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    keys = blocker / "keys"
    args = ("keys", "generate", "--party", "hub", "--dir", str(keys))
    result = arms_sync(*args, cwd=tmp_path, check=False)
    assert refusal(result) == f"Error: Cannot write {keys}: a part of its path is not a folder."


def test_opening_with_a_key_directory_without_private_keys_says_so(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    args = ("envelope", "open", "--keys", str(keys), "in.sealed", "out.jsonl")
    result = arms_sync(*args, cwd=tmp_path, check=False)
    assert "holds no private keys" in refusal(result)


def test_a_run_given_an_agencys_key_directory_names_it_and_the_keys_the_hub_needs(
    tmp_path: Path,
) -> None:
    """The hub's key directory holds the hub's private keys; an agency's is refused in
    one sentence that names the directory given and how the hub's own is made, and no
    ledger is left behind."""
    keys = tmp_path / "police-keys"
    arms_sync("keys", "generate", "--party", "police", "--dir", str(keys), cwd=tmp_path)
    probation, police = write_feeds(tmp_path)
    args = (*feed_run_args(probation, police), "--keys", str(keys))
    result = arms_sync(*args, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert refusal(result) == (
        f"Error: The key directory {keys} holds no private keys of hub: give hub's own key "
        "directory (`arms-sync keys generate --party hub --dir DIR` makes one)."
    )
    assert not (tmp_path / "arms-sync.db").exists()


def test_a_malformed_date_is_refused_in_one_sentence(empty: Path) -> None:
    result = arms_sync("export", "ownership", "--as-of", "2025-02-30", cwd=empty, check=False)
    assert "YYYY-MM-DD" in refusal(result)


@pytest.mark.parametrize("day", ["20261128", "2026-W48-6", "2026-333", "+2026-11-28"])
@pytest.mark.parametrize(
    "command",
    [
        ("run", "--probation-feed", "p.jsonl", "--police-feed", "q.jsonl", "--as-of"),
        ("export", "ownership", "--as-of"),
        ("report", "duplicates", "--format", "json", "--from"),
    ],
    ids=["run", "export ownership", "report duplicates"],
)
def test_a_date_in_another_iso_form_is_refused(
    empty: Path, command: tuple[str, ...], day: str
) -> None:
    """Only `YYYY-MM-DD`: a compact or week date is not silently read as some day."""
    result = arms_sync(*command, day, cwd=empty, check=False)
    assert "YYYY-MM-DD" in refusal(result)


@pytest.fixture
def no_run(tmp_path: Path) -> str:
    """The URL of a ledger with its schema made and no run."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    made = App(Settings(database_url=url))
    assert made.ledger.last_pass() is None
    made.close()
    return url


@pytest.mark.parametrize("what", ["ownership", "timeline", "links"])
def test_an_export_from_a_ledger_without_a_run_is_refused(
    empty: Path, no_run: str, what: str
) -> None:
    """Empty exports from a ledger no run has filled would read as no subjects."""
    result = arms_sync("--db", no_run, "export", what, cwd=empty, check=False)
    assert refusal(result) == (
        "Error: The ledger holds no completed run, so there are no decisions to export yet: "
        "run `arms-sync run` first, or check --db."
    )
    assert result.stdout == ""


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
def test_a_report_from_a_ledger_without_a_run_is_refused(
    empty: Path, no_run: str, fmt: str
) -> None:
    """An empty report "as of today" from a ledger no run has filled would read as no duplicates."""
    args = ("report", "duplicates", "--format", fmt)
    result = arms_sync("--db", no_run, *args, cwd=empty, check=False)
    assert refusal(result) == (
        "Error: The ledger holds no completed run, so there are no flags to report yet: "
        "run `arms-sync run` first, or check --db."
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "Error: Missing command: one of audit, beat, "),
        (("export",), "Error: Missing command: one of links, ownership, timeline "),
        (("report", "duplicates"), "Error: Missing option '--format'; choose from: json, csv, "),
        (("export", "timeline", "extra"), "Error: Got unexpected extra argument (extra)."),
        (("export", "ownership", "--ou"), "Error: No such option '--ou' (did you mean '--out'?)."),
        (
            ("reconcile", "list", "--al"),
            "Error: No such option '--al' (did you mean one of: '--all', '--area', '--help'?).",
        ),
    ],
    ids=[
        "no command",
        "no subcommand",
        "missing choice",
        "extra argument",
        "misspelt option",
        "misspelt option, two alike",
    ],
)
def test_a_usage_error_from_the_option_parser_is_one_sentence(
    empty: Path, args: tuple[str, ...], expected: str
) -> None:
    """A missing command names the choices instead of printing the whole help as the error."""
    result = arms_sync(*args, cwd=empty, check=False)
    assert refusal(result).startswith(expected)
    assert result.stdout == ""


READING_COMMANDS = [
    ("export", "links"),
    ("report", "duplicates", "--format", "json"),
    ("rejects",),
    ("reconcile", "list"),
    ("audit", "verify"),
    ("status",),
    ("dead-letters",),
    ("ledger", "reencrypt"),
]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_that_reads_the_ledger_refuses_a_postgresql_database_holding_none(
    empty: Path, fresh_postgres_url: str, command: tuple[str, ...]
) -> None:
    """As it refuses a missing ledger file: a mistyped database name that exists (the
    server's own `postgres`, another team's empty database) is not given a ledger."""
    result = arms_sync("--db", fresh_postgres_url, *command, cwd=empty, check=False)

    sentence = refusal(result)
    assert sentence.startswith("Error: The database arms_sync_")
    assert sentence.endswith(
        " holds no arms-sync ledger: run `arms-sync run` (or start the background workers) "
        "first, or check --db."
    )
    engine = create_engine(fresh_postgres_url)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_that_reads_the_ledger_refuses_a_missing_or_empty_ledger_file(
    empty: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = arms_sync(*command, cwd=empty, check=False)

    assert refusal(result) == (
        "Error: There is no ledger file arms-sync.db: run `arms-sync run` first, or check --db."
    )
    assert list(empty.iterdir()) == []

    touched = tmp_path / "touched"
    touched.mkdir()
    (touched / "arms-sync.db").touch()
    result = arms_sync(*command, cwd=touched, check=False)

    assert refusal(result) == (
        "Error: The ledger file arms-sync.db is empty: no run has made a ledger in it yet; "
        "run `arms-sync run` first, or check --db."
    )
    assert [(path.name, path.stat().st_size) for path in touched.iterdir()] == [("arms-sync.db", 0)]


@pytest.mark.parametrize(
    ("feed", "sentence"),
    [
        ("https://", "A gateway URL names no host: give https://HOST[:PORT]."),
        ("http://[::1", "A gateway URL is not a valid URL: check its host and port."),
        (
            "https://gw.example:notaport/",
            "A gateway URL is not a valid URL: check its host and port.",
        ),
        (
            f"https://hub:{PASSWORD}@gw.example",
            "A gateway URL must not hold a user name or password: give https://HOST[:PORT] "
            "and put the hub's client secret in ARMS_SYNC_GATEWAY_CLIENT_SECRET or the "
            "agency's ARMS_SYNC_<AGENCY>_GATEWAY_CLIENT_SECRET.",
        ),
        ("f" * 300, f"The probation feed file {'f' * 300} does not exist or is not a file."),
        (".", "The probation feed path . is a folder, not a feed file."),
        ("/tmp/", "The probation feed path tmp is a folder, not a feed file."),
        (
            "/dev/null",
            "The probation feed path null is not a regular file (a device or a pipe, say): "
            "a feed is read from a file, which may be read more than once.",
        ),
        (
            f"ftp://user:{PASSWORD}@files.example/feed.jsonl",
            "The probation feed names a URL of the scheme ftp, which arms-sync cannot read; "
            "give a feed file or a gateway's https:// URL.",
        ),
    ],
    ids=[
        "no-host",
        "broken-host",
        "bad-port",
        "credentials",
        "name-too-long",
        "a-folder-with-no-name",
        "a-folder",
        "a-device",
        "another-kind-of-url",
    ],
)
def test_a_feed_that_cannot_be_named_is_refused(
    empty: Path, tmp_path: Path, feed: str, sentence: str
) -> None:
    police = tmp_path / "police.jsonl"
    police.write_text("")
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    args = ("run", "--probation-feed", feed, "--police-feed", str(police), "--db", db)
    assert refusal(arms_sync(*args, cwd=empty, check=False)) == f"Error: {sentence}"


def test_a_feed_file_whose_read_fails_is_unreadable_input(empty: Path, tmp_path: Path) -> None:
    """A read the system fails (a bad disk, a lost share) is refused as unreadable input.

    Reading a process's own memory from its start fails with an input/output error.
    """
    police = tmp_path / "police.jsonl"
    police.write_text("")
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    args = ("run", "--probation-feed", "/proc/self/mem", "--police-feed", str(police), "--db", db)
    result = arms_sync(*args, cwd=empty, check=False)
    assert result.returncode == 2
    assert refusal(result) == "Error: The feed file mem cannot be read: input/output error."


def test_a_gateway_whose_port_is_taken_is_refused(empty: Path, tmp_path: Path) -> None:
    keys, feed = tmp_path / "keys", tmp_path / "feed.jsonl"
    feed.write_text("")
    for party in ("hub", "probation"):
        arms_sync("keys", "generate", "--party", party, "--dir", str(keys), cwd=empty)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--agency", "probation", "--feed", str(feed), "--keys", str(keys)]
        args += ["--host", "127.0.0.1", "--port", str(port), "--state", str(tmp_path / "st")]
        args += ["--client-id", "hub", "--client-secret", secrets.token_urlsafe(8)]
        line = refusal(arms_sync("gateway", *args, cwd=empty, check=False))
    assert (
        line
        == f"Error: The gateway cannot listen on 127.0.0.1 port {port}: Address already in use."
    )


def test_a_database_of_another_application_is_refused_untouched(
    empty: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)")
    other.chmod(0o644)
    before = other.read_bytes()
    for command in (("rejects",), tuple(run_args(tmp_path))):
        line = refusal(arms_sync("--db", f"sqlite:///{other}", *command, cwd=empty, check=False))
        assert line == (
            f"Error: The file {other} holds tables but is not an arms-sync ledger; "
            "give an empty database or an arms-sync ledger."
        )
    assert other.read_bytes() == before
    assert stat.S_IMODE(other.stat().st_mode) == 0o644
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("other")) == [
        "other.db"
    ]


@pytest.mark.parametrize("reading", [False, True], ids=["run", "export"])
def test_a_ledger_that_cannot_be_written_is_refused_in_one_sentence(
    empty: Path, tmp_path: Path, reading: bool
) -> None:
    """Exit 2 whatever the command: an export must log its consultation, so it writes too."""
    ledger_file = tmp_path / "ledger.db"
    arms_sync("--db", f"sqlite:///{ledger_file}", *run_args(tmp_path), cwd=empty)
    read_only = f"sqlite:///file:{ledger_file}?mode=ro&uri=true"
    command = ("export", "timeline") if reading else run_args(tmp_path)
    result = arms_sync("--db", read_only, *command, cwd=empty, check=False)
    assert result.returncode == 2
    assert refusal(result) == (
        "Error: The ledger cannot be written; check the permissions of its file and folder."
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    "command",
    [
        ("export", "links"),
        ("report", "duplicates", "--format", "html"),
        ("rejects",),
        ("audit", "export"),
        ("--help",),
    ],
    ids=" ".join,
)
def test_standard_output_on_a_full_disk_is_refused_as_an_output_file_is(
    ledger: str, empty: Path, command: tuple[str, ...]
) -> None:
    """`arms-sync export links > FILE` on a full disk: the sentence `--out FILE` would give."""
    with Path("/dev/full").open("w") as full:
        result = subprocess.run(
            [*CLI, "--db", ledger, *command],
            cwd=empty,
            env={**os.environ, "ARMS_SYNC_OPERATOR": "duty officer"},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert refusal(result) == "Error: Cannot write the standard output: the disk is full."


def test_feeds_given_the_wrong_way_round_are_refused_and_nothing_is_kept(
    empty: Path, tmp_path: Path
) -> None:
    probation, police = write_feeds(tmp_path)
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    swapped = feed_run_args(police, probation)
    line = refusal(arms_sync("--db", db, *swapped, cwd=empty, check=False))
    assert line == (
        f"Error: Every record of the probation feed {police.name} and of the police feed "
        f"{probation.name} is the other agency's: the feeds were given the wrong way round."
    )
    listed = arms_sync("--db", db, "rejects", "--json", cwd=empty).stdout
    assert listed == ""
    assert refusal(arms_sync("--db", db, "export", "timeline", cwd=empty, check=False))


def test_one_file_given_as_both_feeds_is_refused_before_anything_is_read(
    empty: Path, tmp_path: Path
) -> None:
    probation, _ = write_feeds(tmp_path)
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    line = refusal(
        arms_sync("--db", db, *feed_run_args(probation, probation), cwd=empty, check=False)
    )
    assert line == (
        f"Error: The same file, {probation.name}, is given as both the probation and the "
        "police feed; give each agency's own feed."
    )
    assert not (tmp_path / "ledger.db").exists()


@pytest.mark.parametrize("blank", ["", " "], ids=["empty", "space"])
@pytest.mark.parametrize(
    "command",
    [("export", "links"), ("report", "duplicates", "--format", "json"), ("audit", "export")],
    ids=["export", "report", "audit export"],
)
def test_an_out_that_names_no_file_is_refused(
    ledger: str, empty: Path, blank: str, command: tuple[str, ...]
) -> None:
    result = arms_sync("--db", ledger, *command, "--out", blank, cwd=empty, check=False)
    assert refusal(result) == (
        "Error: Invalid value for '--out': needs a file name; "
        "leave it out to write to standard output."
    )


@pytest.mark.parametrize(
    "command",
    [("export", "links"), ("report", "duplicates", "--format", "csv")],
    ids=["export", "report"],
)
def test_out_dash_is_standard_output_not_a_file_named_dash(
    ledger: str, empty: Path, command: tuple[str, ...]
) -> None:
    to_stdout = arms_sync("--db", ledger, *command, cwd=empty)
    dashed = arms_sync("--db", ledger, *command, "--out", "-", cwd=empty)
    assert dashed.stdout == to_stdout.stdout
    assert dashed.stdout
    assert not (empty / "-").exists()


@pytest.mark.parametrize("where", ["nowhere/ledger.db", "a-file/ledger.db"])
def test_a_command_that_reads_a_ledger_in_a_missing_folder_says_there_is_none(
    empty: Path, where: str
) -> None:
    """Not that it "cannot be made": `export` never makes a ledger."""
    (empty / "a-file").write_text("not a folder\n")
    result = arms_sync("--db", f"sqlite:///{where}", "export", "timeline", cwd=empty, check=False)
    assert refusal(result) == (
        f"Error: There is no ledger file {where}: run `arms-sync run` first, or check --db."
    )
