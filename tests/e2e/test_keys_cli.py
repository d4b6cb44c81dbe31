"""The `keys` and `envelope` command groups, end to end in a temporary key directory."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli.envelope_cmd import envelope
from sync.cli.keys_cmd import KEYS_DIR_ENV, keys
from sync.errors import ConfigurationError, CryptoError, EnvelopeRejected, InputRefused, KeyError_
from tests.conftest import run_cli
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.e2e

PARTIES = ("probation", "police", "hub")
RECORDS = b"".join(
    json.dumps({"type": "person", "id": f"X{n:06d}", "surname": "Smith"}).encode() + b"\n"
    for n in range(25)
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def key_dir(runner: CliRunner, tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    for party in PARTIES:
        result = runner.invoke(keys, ["generate", "--party", party, "--dir", str(directory)])
        assert result.exit_code == 0, result.output
    return directory


def _listed(runner: CliRunner, directory: Path) -> list[dict[str, object]]:
    result = runner.invoke(keys, ["list", "--json", "--dir", str(directory)])
    assert result.exit_code == 0
    return [json.loads(line) for line in result.output.splitlines()]


def test_generate_writes_owner_only_private_keys(key_dir: Path) -> None:
    private = list((key_dir / "private").rglob("*"))
    files = [path for path in private if path.is_file()]
    assert len(files) == 7
    assert all(_mode(path) == 0o600 for path in files)
    assert all(_mode(path) == 0o700 for path in private if path.is_dir())
    assert (key_dir / "private" / "hub" / "data.key").is_file()


def test_list_shows_every_key_from_the_environment_variable(
    runner: CliRunner, key_dir: Path
) -> None:
    result = runner.invoke(keys, ["list"], env={KEYS_DIR_ENV: str(key_dir)})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 6
    assert all("active" in line for line in lines)
    assert {line.split()[0] for line in lines} == set(PARTIES)


def test_rotate_then_revoke_end_to_end(runner: CliRunner, key_dir: Path) -> None:
    first = _listed(runner, key_dir)
    rotated = runner.invoke(
        keys, ["rotate", "--party", "police", "--grace-days", "3", "--dir", str(key_dir)]
    )
    assert rotated.exit_code == 0
    after_rotation = _listed(runner, key_dir)
    old_police = [k for k in after_rotation if k["party"] == "police" and k["generation"] == 1]
    assert {k["status"] for k in old_police} == {"decrypt-only"}
    assert all(k["grace_until"] is not None for k in old_police)
    assert len(after_rotation) == len(first) + 2

    old_id = str(old_police[0]["key_id"])
    revoked = runner.invoke(
        keys, ["revoke", "--party", "police", "--key-id", old_id, "--dir", str(key_dir)]
    )
    assert revoked.exit_code == 0
    assert revoked.stdout.count("revoked") == 2
    assert "Warning" not in revoked.stderr  # generation 2 is active
    statuses = {
        (k["generation"], k["status"]) for k in _listed(runner, key_dir) if k["party"] == "police"
    }
    assert statuses == {(1, "revoked"), (2, "active")}
    shown = runner.invoke(keys, ["list", "--dir", str(key_dir)]).output.splitlines()
    revoked_lines = [line for line in shown if " revoked" in line]
    assert len(revoked_lines) == 2
    assert all(" since " in line and " until " not in line for line in revoked_lines)
    new_files = list((key_dir / "private" / "police").glob("*.pem"))
    assert len(new_files) == 4
    assert all(_mode(path) == 0o600 for path in new_files)


def test_missing_key_directory_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(keys, ["list"], env={KEYS_DIR_ENV: ""})
    assert result.exit_code == 2
    assert KEYS_DIR_ENV in result.output


@pytest.mark.parametrize(
    "command",
    [["list"], ["rotate", "--party", "hub"], ["revoke", "--party", "police", "--key-id", "ab"]],
)
def test_a_key_directory_that_does_not_exist_is_refused_and_not_made(
    runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "mistyped"
    result = runner.invoke(keys, [*command, "--dir", str(missing)])
    assert isinstance(result.exception, ConfigurationError)
    assert str(result.exception) == f"There is no key directory {missing}."
    assert not missing.exists()


def test_unknown_party_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(keys, ["generate", "--party", "court", "--dir", str(tmp_path)])
    assert result.exit_code == 2


def test_generating_twice_is_refused(runner: CliRunner, key_dir: Path) -> None:
    result = runner.invoke(keys, ["generate", "--party", "hub", "--dir", str(key_dir)])
    assert isinstance(result.exception, KeyError_)
    assert result.exception.exit_code == 2


def test_generating_if_missing_leaves_existing_keys_and_makes_missing_ones(
    runner: CliRunner, tmp_path: Path
) -> None:
    directory = tmp_path / "keys"
    generate = ["generate", "--party", "hub", "--dir", str(directory), "--if-missing"]
    first = runner.invoke(keys, generate)
    ring_after_first = (directory / "ring.json").read_bytes()
    again = runner.invoke(keys, generate)

    assert (first.exit_code, again.exit_code) == (0, 0)
    assert "hub" in first.output
    assert (directory / "ring.json").read_bytes() == ring_after_first
    assert again.output == "hub already has keys; left as they are.\n"


@pytest.mark.parametrize("lost", ["encrypt-*.pem", "sign-*.pem", "data.key"])
def test_generating_if_missing_refuses_a_half_made_set(
    runner: CliRunner, tmp_path: Path, lost: str
) -> None:
    directory = tmp_path / "keys"
    generate = ["generate", "--party", "hub", "--dir", str(directory), "--if-missing"]
    runner.invoke(keys, generate)
    ring = (directory / "ring.json").read_bytes()
    private = directory / "private" / "hub"
    [gone] = private.glob(lost)
    gone.unlink()
    kept = sorted(path.name for path in private.iterdir())

    again = runner.invoke(keys, generate)

    assert isinstance(again.exception, KeyError_)
    assert again.exception.exit_code == 2
    assert "missing" in str(again.exception)
    assert (directory / "ring.json").read_bytes() == ring
    assert sorted(path.name for path in private.iterdir()) == kept


def test_generating_if_missing_leaves_a_party_whose_public_keys_were_imported(
    runner: CliRunner, tmp_path: Path
) -> None:
    hub, police = tmp_path / "hub", tmp_path / "police"
    runner.invoke(keys, ["generate", "--party", "hub", "--dir", str(hub)])
    runner.invoke(keys, ["generate", "--party", "police", "--dir", str(police)])
    imported = runner.invoke(
        keys, ["import", "--party", "police", "--dir", str(hub), str(police / "ring.json")]
    )
    assert imported.exit_code == 0, imported.output
    ring = (hub / "ring.json").read_bytes()

    again = runner.invoke(
        keys, ["generate", "--party", "police", "--dir", str(hub), "--if-missing"]
    )

    assert again.exit_code == 0, again.output
    assert again.output == "police already has keys; left as they are.\n"
    assert (hub / "ring.json").read_bytes() == ring


def test_a_run_whose_ring_lacks_both_agencies_names_both_before_reading_a_feed(
    tmp_path: Path,
) -> None:
    hub = tmp_path / "hub"
    run_cli("keys", "generate", "--party", "hub", "--dir", str(hub), cwd=tmp_path)
    feeds = [str(path) for path in write_feeds(tmp_path)]
    result = run_cli(
        "run",
        "--probation-feed",
        feeds[0],
        "--police-feed",
        feeds[1],
        "--keys",
        str(hub),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "Error: Probation and police have no keys in this key ring; import their current "
        "public keys with `arms-sync keys import --party probation RING` and "
        "`arms-sync keys import --party police RING`.\n"
    )
    assert not (tmp_path / "arms-sync.db").exists()  # refused before the ledger is made


def _files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_revoking_an_unknown_key_is_refused_and_changes_no_key(
    key_dir: Path, tmp_path: Path
) -> None:
    before = _files_of(key_dir)
    unknown = "0" * 32
    result = run_cli(
        "keys",
        "revoke",
        "--party",
        "hub",
        "--key-id",
        unknown,
        "--dir",
        str(key_dir),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == f"Error: Key {unknown} is not a key of hub.\n"
    assert _files_of(key_dir) == before


def _seal_file(runner: CliRunner, key_dir: Path, tmp_path: Path) -> Path:
    plain = tmp_path / "probation.jsonl"
    plain.write_bytes(RECORDS)
    sealed = tmp_path / "probation.sealed.jsonl"
    result = runner.invoke(
        envelope,
        [
            "seal",
            "--from",
            "probation",
            "--to",
            "hub",
            "--page-lines",
            "10",
            str(plain),
            str(sealed),
        ],
        env={KEYS_DIR_ENV: str(key_dir)},
    )
    assert result.exit_code == 0
    return sealed


def test_envelope_seal_and_open_round_trip(
    runner: CliRunner, key_dir: Path, tmp_path: Path
) -> None:
    sealed = _seal_file(runner, key_dir, tmp_path)
    assert len(sealed.read_bytes().splitlines()) == 3
    assert b"Smith" not in sealed.read_bytes()
    opened = tmp_path / "opened.jsonl"
    result = runner.invoke(
        envelope, ["open", "--as", "hub", "--keys", str(key_dir), str(sealed), str(opened)]
    )
    assert result.exit_code == 0
    same = opened.read_bytes() == RECORDS
    assert same  # the records name synthetic people: never print them
    assert _mode(opened) == 0o600
    assert "Opened 3 pages from probation" in result.output


def test_envelope_open_by_the_wrong_party_leaves_no_output(
    runner: CliRunner, key_dir: Path, tmp_path: Path
) -> None:
    sealed = _seal_file(runner, key_dir, tmp_path)
    opened = tmp_path / "opened.jsonl"
    result = runner.invoke(
        envelope, ["open", "--as", "police", "--keys", str(key_dir), str(sealed), str(opened)]
    )
    assert isinstance(result.exception, InputRefused)
    assert isinstance(result.exception.__cause__, EnvelopeRejected)
    assert not opened.exists()
    assert not list(tmp_path.glob(".*.part"))


def test_envelope_open_refuses_a_tampered_file(
    runner: CliRunner, key_dir: Path, tmp_path: Path
) -> None:
    sealed = _seal_file(runner, key_dir, tmp_path)
    lines = sealed.read_bytes().splitlines()
    document = json.loads(lines[1])
    document["header"]["sealed_at"] = "2020-01-01T00:00:00Z"
    lines[1] = json.dumps(document).encode()
    sealed.write_bytes(b"\n".join(lines) + b"\n")
    opened = tmp_path / "opened.jsonl"
    result = runner.invoke(
        envelope, ["open", "--as", "hub", "--keys", str(key_dir), str(sealed), str(opened)]
    )
    assert isinstance(result.exception, InputRefused)
    assert isinstance(result.exception.__cause__, CryptoError)
    assert "Smith" not in str(result.exception)
    assert not opened.exists()


def test_envelope_open_needs_as_when_the_directory_holds_several_parties(
    runner: CliRunner, key_dir: Path, tmp_path: Path
) -> None:
    sealed = _seal_file(runner, key_dir, tmp_path)
    result = runner.invoke(
        envelope, ["open", "--keys", str(key_dir), str(sealed), str(tmp_path / "out.jsonl")]
    )
    assert result.exit_code == 2
    assert "--as" in result.output


def test_keys_commands_take_the_key_directory_from_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('[arms_sync]\nkeys_dir = "from-settings"\n', encoding="utf-8")
    env = {"ARMS_SYNC_CONFIG": str(settings)}
    run_cli("keys", "generate", "--party", "hub", cwd=tmp_path, env=env)
    listed = run_cli("--config", str(settings), "keys", "list", "--json", cwd=tmp_path)

    assert (tmp_path / "from-settings" / "ring.json").is_file()
    assert [json.loads(line)["party"] for line in listed.stdout.splitlines()] == ["hub", "hub"]


def _relay(runner: CliRunner, key_dir: Path, tmp_path: Path) -> Path:
    """A relay's key directory: the parties' public keys imported, no private key."""
    relay = tmp_path / "relay"
    for party in ("probation", "hub"):
        imported = runner.invoke(
            keys, ["import", "--party", party, "--dir", str(relay), str(key_dir / "ring.json")]
        )
        assert imported.exit_code == 0, imported.output
    assert not (relay / "private").exists()
    return relay


def test_a_relay_checks_the_sender_with_public_keys_only_and_opens_nothing(
    runner: CliRunner, key_dir: Path, tmp_path: Path
) -> None:
    sealed = _seal_file(runner, key_dir, tmp_path)
    relay = _relay(runner, key_dir, tmp_path)
    pages = len(sealed.read_bytes().splitlines())

    checked = runner.invoke(envelope, ["verify", "--keys", str(relay), str(sealed)])

    assert checked.exit_code == 0, checked.output
    assert pages > 1
    assert checked.output == (
        f"{pages} envelopes, sealed by probation to hub: every outer signature verifies.\n"
    )
    opened = runner.invoke(
        envelope, ["open", "--as", "hub", "--keys", str(relay), str(sealed), str(tmp_path / "o")]
    )
    assert opened.exit_code != 0
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("where", ["header", "ciphertext"])
def test_a_relay_refuses_an_envelope_altered_in_transit(
    runner: CliRunner, key_dir: Path, tmp_path: Path, where: str
) -> None:
    sealed = _seal_file(runner, key_dir, tmp_path)
    relay = _relay(runner, key_dir, tmp_path)
    lines = sealed.read_bytes().splitlines()
    document = json.loads(lines[1])
    holder, field = (document["header"], "msg_id") if where == "header" else (document, "ct")
    value = holder[field]
    holder[field] = value[:-6] + ("a" if value[-6] != "a" else "b") + value[-5:]
    lines[1] = json.dumps(document).encode()
    sealed.write_bytes(b"\n".join(lines) + b"\n")

    checked = runner.invoke(envelope, ["verify", "--keys", str(relay), str(sealed)])

    assert isinstance(checked.exception, InputRefused)
    assert checked.exception.exit_code == 2
    assert str(checked.exception).startswith(f"Envelope 2 of {sealed} is refused:")


def test_revoking_a_party_s_only_active_keys_warns_that_it_must_rotate(
    runner: CliRunner, key_dir: Path
) -> None:
    [active_sign] = [
        k for k in _listed(runner, key_dir) if k["party"] == "police" and k["use"] == "sign"
    ]
    args = ["revoke", "--party", "police", "--key-id", str(active_sign["key_id"])]

    revoked = runner.invoke(keys, [*args, "--dir", str(key_dir)])

    assert revoked.exit_code == 0
    assert revoked.stderr == (
        "Warning: police has no active keys now, so nothing can be sealed to it or signed by "
        "it until it makes new ones (`arms-sync keys rotate --party police` in its own key "
        "directory) and the other parties import them.\n"
    )
