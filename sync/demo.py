"""`arms-sync demo`: synthetic agency data served by two gateways, a full sync, the report.

Everything runs on the embedded default (an SQLite ledger in the demo folder)
and on loopback: the demo makes keys for the hub and both agencies, serves
each agency's synthetic feed from its own gateway on 127.0.0.1, pulls both
feeds as sealed pages over HTTP, delivers the sealed notices back, writes the
duplicate report in three formats and prints where everything is.
"""

from __future__ import annotations

import secrets
import shlex
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import click
from pydantic import SecretStr

from sync.app import App
from sync.audit.cli_hooks import audit_cli_disclosure
from sync.crypto.keyring import RING_FILE, generate_party, load_keyring
from sync.crypto.keys import Party
from sync.cycle import deliver_to_gateways, run_cycle
from sync.gateway.feed import FeedFile
from sync.gateway.oauth import TokenIssuer
from sync.gateway.server import GatewayServer, build_server
from sync.gateway.service import Gateway, GatewayConfig
from sync.gateway.store import NoticeStore
from sync.gateway_source import gateway_source
from sync.ledger.location import ledger_place, sqlite_path
from sync.reports.files import write_report_files
from sync.reports.from_ledger import ledger_report
from sync.reports.models import ReportFilters, hours_text
from sync.settings import Settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds

AGENCIES = ("probation", "police")
LOOPBACK = "127.0.0.1"
PROGRAM = "arms-sync"


def prepare_keys(keys_dir: Path) -> None:
    """Key pairs for the hub and both agencies, made once per demo folder."""
    if (keys_dir / RING_FILE).exists():
        return
    for party in (Party.HUB, Party.PROBATION, Party.POLICE):
        generate_party(keys_dir, party)


@contextmanager
def local_gateways(
    keys_dir: Path, feeds_dir: Path, state_dir: Path, client_id: str, client_secret: str
) -> Iterator[dict[str, str]]:
    """Both agencies' gateways serving on loopback; yields their base URLs."""
    servers: list[GatewayServer] = []
    threads: list[threading.Thread] = []
    urls = {}
    try:
        for agency in AGENCIES:
            party = Party(agency)
            config = GatewayConfig(
                agency=party,
                keyring=load_keyring(keys_dir, party),
                feed=FeedFile(feeds_dir / f"{agency}.jsonl"),
                store=NoticeStore(state_dir / agency),
                tokens=TokenIssuer(client_id, client_secret),
            )
            server = build_server(Gateway(config), host=LOOPBACK, port=0)
            thread = threading.Thread(target=server.serve_forever, name=f"{agency}-gateway")
            thread.start()
            servers.append(server)
            threads.append(thread)
            urls[agency] = f"http://{LOOPBACK}:{server.server_address[1]}"
        yield urls
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join()


def run_demo(base: App, out: Path, subjects: int, seed: int) -> None:
    """Generate feeds, serve and sync them over HTTP, write the reports, print a summary.

    `base` gives the settings and clock and opens nothing: the demo's own App
    (its keys, its gateway secret) does the work, and is closed however it ends.
    """
    feeds_dir, keys_dir = out / "feeds", out / "keys"
    feeds_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"Generating synthetic feeds for {subjects} people…")
    today = base.today()
    write_synthetic_feeds(feeds_dir, SynthOptions(subjects=subjects, seed=seed, today=today))
    prepare_keys(keys_dir)
    secret = secrets.token_urlsafe(24)
    with closing(App(replace_settings(base, keys_dir, secret), clock=base.clock)) as app:
        _sync_over_gateways(app, out, secret)
        write_reports(app, out)


def _sync_over_gateways(app: App, out: Path, secret: str) -> None:
    """One cycle pulling both local gateways, its notices delivered back; its summary shown."""
    client_id = app.settings.gateway_client_id
    feeds_dir, keys_dir = out / "feeds", out / "keys"
    with local_gateways(keys_dir, feeds_dir, out / "gateways", client_id, secret) as urls:
        click.echo(
            "Serving both agencies' feeds from local gateways: "
            + ", ".join(f"{agency} {url}" for agency, url in urls.items())
        )
        sources = {agency: gateway_source(urls[agency], agency, app) for agency in AGENCIES}
        click.echo("Syncing over HTTP with sealed envelopes…")
        summary = run_cycle(app, sources, app.today())
        deliver_to_gateways(app, dict(sources), summary)
    click.echo("\n".join(summary.lines()))


def replace_settings(app: App, keys_dir: Path, secret: str) -> Settings:
    """The demo's settings: its own keys and gateway secret."""
    return app.settings.model_copy(
        update={"keys_dir": keys_dir, "gateway_client_secret": SecretStr(secret)}
    )


def write_reports(app: App, out: Path) -> None:
    """The duplicate report in every format, and where it went."""
    report = ledger_report(app, ReportFilters())
    written = write_report_files(
        report,
        out,
        "duplicates-report",
        lambda path: audit_cli_disclosure(app, "duplicate-assessment report written", path),
    )
    figures = report.summary
    click.echo(
        f"Redundant completed assessments: {figures.redundant_completed} "
        f"(about {hours_text(figures.hours_lost_estimate)} officer hours, an estimate)."
    )
    click.echo("Reports written: " + ", ".join(str(path) for path in written))
    click.echo(f"Ledger: {ledger_place(app.ledger.engine.url)}")
    click.echo(f"Look into it: {look_into_it(app)}")


def look_into_it(app: App) -> str:
    """A command that reads the demo's ledger with the demo's keys, ready to paste.

    The ledger's at-rest key is in the demo's key folder, so every command
    needs `ARMS_SYNC_KEYS_DIR`; an SQLite ledger is named by its URL, and any
    other ledger by "the same --db" (its URL may hold a password).
    """
    path = sqlite_path(app.ledger.engine.url)
    db = "--db <the same URL>" if path is None else f"--db {shlex.quote(f'sqlite:///{path}')}"
    keys = shlex.quote(str(app.settings.keys_dir))
    return f"ARMS_SYNC_KEYS_DIR={keys} {shlex.quote(this_program())} {db} reconcile list"


def this_program() -> str:
    """`arms-sync` as it was started (`.venv/bin/arms-sync` from `make demo`), so the
    command pasted runs the same installation; `arms-sync` when started otherwise."""
    started = sys.argv[0] if sys.argv else ""
    return started if Path(started).name == PROGRAM else PROGRAM
