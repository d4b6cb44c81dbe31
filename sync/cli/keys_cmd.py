"""`arms-sync keys …`: generate, list, rotate and revoke the exchange keys.

The key directory comes from `--dir` or `ARMS_SYNC_KEYS_DIR`, else from the
settings file's `keys_dir` (`--config` or `ARMS_SYNC_CONFIG`). Each command
parses its options, calls `sync.crypto.keyring`, and reports in one line per key.
Errors are `click` usage errors or `sync.errors` ones, formatted by the main group.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from sync.cli.context import CliState, any_case_choice, writing
from sync.crypto.keyring import generate_party, import_party, list_keys, revoke, rotate
from sync.crypto.keys import KeyInfo, KeyStatus, Party
from sync.errors import ConfigurationError

KEYS_DIR_ENV = "ARMS_SYNC_KEYS_DIR"
DEFAULT_GRACE_DAYS = 30
MIN_GRACE_DAYS = 0

PARTY_CHOICE = any_case_choice(party.value for party in Party)


def resolve_key_dir(value: Path | None) -> Path:
    """The key directory: the option or environment, else the settings file's, else an error."""
    if value is None:
        value = _settings_file_key_dir()
    if value is None:
        raise click.UsageError(
            f"no key directory: pass {_key_dir_option_name()}, set {KEYS_DIR_ENV}, or name "
            "keys_dir in the settings file."
        )
    return value


def _key_dir_option_name() -> str:
    """The key directory option of the command running (`--dir` or `--keys`)."""
    context = click.get_current_context(silent=True)
    params = [] if context is None else context.command.params
    names = [param.opts[0] for param in params if param.name == "key_dir" and param.opts]
    return names[0] if names else "--dir"


def existing_key_dir(value: Path | None) -> Path:
    """The key directory as `resolve_key_dir` finds it, refused unless it exists.

    For the commands that work on keys already made: a mistyped directory is
    named, never made empty on the way.
    """
    directory = resolve_key_dir(value)
    if not directory.is_dir():
        raise ConfigurationError(f"There is no key directory {directory}.")
    return directory


def _settings_file_key_dir() -> Path | None:
    """`keys_dir` of the settings file given with --config or ARMS_SYNC_CONFIG, if any."""
    context = click.get_current_context(silent=True)
    state = None if context is None else context.find_object(CliState)
    if state is None or state.config is None:
        return None
    from sync.settings import load_settings

    return load_settings(state.config).keys_dir


def key_dir_option(name: str) -> click.Option:
    """A `--dir`/`--keys` style option: ARMS_SYNC_KEYS_DIR, else the settings file's keys_dir."""
    return click.Option(
        [name, "key_dir"],
        type=click.Path(file_okay=False, path_type=Path),
        envvar=KEYS_DIR_ENV,
        show_envvar=True,
        default=None,
        help="Key directory (default: the settings file's keys_dir).",
    )


def _describe(info: KeyInfo) -> str:
    return (
        f"{info.party.value:<9} {info.use.value:<7} {info.key_id} "
        f"gen {info.generation:<3} {info.status.value}{_status_time(info)}"
    )


def _status_time(info: KeyInfo) -> str:
    """When a revoked key was revoked (for good), or until when a key in its grace opens."""
    if info.status is KeyStatus.REVOKED:
        return "" if info.revoked_at is None else f" since {info.revoked_at.isoformat()}"
    return "" if info.grace_until is None else f" until {info.grace_until.isoformat()}"


def _as_json(info: KeyInfo) -> str:
    return json.dumps(
        {
            "party": info.party.value,
            "use": info.use.value,
            "key_id": info.key_id,
            "generation": info.generation,
            "status": info.status.value,
            "created_at": info.created_at.isoformat(),
            "grace_until": None if info.grace_until is None else info.grace_until.isoformat(),
            "revoked_at": None if info.revoked_at is None else info.revoked_at.isoformat(),
        },
        sort_keys=True,
    )


def _report(infos: list[KeyInfo]) -> None:
    for info in infos:
        click.echo(_describe(info))


@click.group("keys")
def keys() -> None:
    """Generate, import, list, rotate and revoke the exchange keys."""


@keys.command("generate", params=[key_dir_option("--dir")])
@click.option("--party", type=PARTY_CHOICE, required=True, help="Whose keys to make.")
@click.option(
    "--if-missing",
    is_flag=True,
    help=(
        "Leave a party that already has keys as it is, and exit 0 (for set-up scripts); "
        "one whose private key files are gone is still refused."
    ),
)
def generate_cmd(party: str, key_dir: Path | None, if_missing: bool) -> None:
    """Make a party's first signing and encryption keys (the hub also gets the data key)."""
    directory = resolve_key_dir(key_dir)
    with writing(directory):
        changed = generate_party(directory, Party(party), if_missing=if_missing)
    if not changed:
        click.echo(f"{party} already has keys; left as they are.", err=True)
    _report(changed)


@keys.command("list", params=[key_dir_option("--dir")])
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key.")
def list_cmd(key_dir: Path | None, as_json: bool) -> None:
    """List every party's public keys with their status."""
    directory = existing_key_dir(key_dir)
    infos = list_keys(directory)
    if not infos and not as_json:
        click.echo("No keys in this key directory.", err=True)
    for info in infos:
        click.echo(_as_json(info) if as_json else _describe(info))


@keys.command("rotate", params=[key_dir_option("--dir")])
@click.option("--party", type=PARTY_CHOICE, required=True, help="Whose keys to rotate.")
@click.option(
    "--grace-days",
    type=click.IntRange(min=MIN_GRACE_DAYS),
    default=DEFAULT_GRACE_DAYS,
    show_default=True,
    help="How long the old keys still open and verify.",
)
def rotate_cmd(party: str, grace_days: int, key_dir: Path | None) -> None:
    """Make new primary keys; the old ones become decrypt-only for the grace period."""
    directory = existing_key_dir(key_dir)
    with writing(directory):
        changed = rotate(directory, Party(party), timedelta(days=grace_days))
    _report(changed)


@keys.command("import", params=[key_dir_option("--dir")])
@click.option("--party", type=PARTY_CHOICE, required=True, help="Whose public keys to take.")
@click.argument(
    "published", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="RING"
)
def import_cmd(party: str, published: Path, key_dir: Path | None) -> None:
    """Take a party's public keys from the ring.json it published (its keys only).

    New keys are added; a key already held only moves on (to decrypt-only or
    revoked), never back; keys of other parties in RING are left out.
    """
    directory = resolve_key_dir(key_dir)
    with writing(directory):
        changed = import_party(directory, Party(party), published)
    if not changed:
        click.echo(f"Nothing new from {party}: its keys here are up to date.", err=True)
    _report(changed)


@keys.command("revoke", params=[key_dir_option("--dir")])
@click.option("--party", type=PARTY_CHOICE, required=True, help="Whose key to revoke.")
@click.option("--key-id", required=True, help="The key id (its sibling key is revoked too).")
def revoke_cmd(party: str, key_id: str, key_dir: Path | None) -> None:
    """Revoke a key and its sibling of the same generation; never accepted again."""
    directory = existing_key_dir(key_dir)
    with writing(directory):
        changed = revoke(directory, Party(party), key_id.strip().lower())
    _report(changed)
    _warn_if_left_without_keys(directory, Party(party))


def _warn_if_left_without_keys(directory: Path, party: Party) -> None:
    """Say so when a revocation leaves a party no active key pair."""
    if any(
        info.party is party and info.status is KeyStatus.ACTIVE for info in list_keys(directory)
    ):
        return
    click.echo(
        f"Warning: {party} has no active keys now, so nothing can be sealed to it or signed "
        f"by it until it makes new ones (`arms-sync keys rotate --party {party}` in its own "
        "key directory) and the other parties import them.",
        err=True,
    )
