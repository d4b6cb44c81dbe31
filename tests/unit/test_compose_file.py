"""`docker-compose.yml` asks only for what the product has.

The compose file is not started here (it needs Docker and images), so it is
checked against the code it names: every `arms-sync` command line in it
names real commands and options, its settings are ones the service and the
workers know and accept, and the image copies folders that exist. A command
renamed or a setting dropped in the code fails here, not on a deployment.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from sync.cli.main import cli
from sync.settings import Settings, load_settings
from workers.settings import WorkerSettings, load_worker_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PREFIX = "ARMS_SYNC_"
# `${NAME:-default}` as compose substitutes it when NAME is not set.
SUBSTITUTION = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")
# `arms-sync …` inside the setup service's shell script (quoted for `su -c`).
SHELL_COMMAND = re.compile(r'"(arms-sync [^"]*)"')
IMAGE_SERVICES = (
    "setup",
    "probation-gateway",
    "police-gateway",
    "worker",
    "beat",
    "cli",
    "keys-admin",
)


def compose() -> dict[str, Any]:
    """The compose file, anchors and merge keys resolved."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def command_lines() -> list[list[str]]:
    """Every `arms-sync` command line the compose file runs, as argv after `arms-sync`."""
    lines = []
    for service in compose()["services"].values():
        command = service.get("command")
        if isinstance(command, list) and command[:1] == ["arms-sync"]:
            lines.append([str(part) for part in command[1:]])
        elif isinstance(command, list):
            script = " ".join(str(part) for part in command).replace("$$", "$")
            lines += [shlex.split(found)[1:] for found in SHELL_COMMAND.findall(script)]
    return lines


def resolve(argv: list[str]) -> tuple[click.Command, list[str]]:
    """The command an argv runs (groups followed), and the arguments left for it."""
    command: click.Command = cli
    rest = list(argv)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        found = command.get_command(click.Context(command), rest[0])
        assert found is not None, f"arms-sync has no command {rest[0]}"
        command, rest = found, rest[1:]
    return command, rest


def option_names(command: click.Command) -> set[str]:
    """Every option string the command accepts."""
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def compose_environment() -> dict[str, str]:
    """The deployment's `ARMS_SYNC_*` settings, with compose's defaults substituted."""
    environment = compose()["services"]["worker"]["environment"]
    return {
        name: SUBSTITUTION.sub(r"\1", str(value))
        for name, value in environment.items()
        if name.startswith(PREFIX)
    }


def test_the_compose_file_runs_arms_sync_commands() -> None:
    run = {resolve(line)[0].name for line in command_lines()}
    assert {"worker", "beat", "gateway", "synth", "generate"} <= run


@pytest.mark.parametrize("argv", command_lines(), ids=lambda argv: " ".join(argv[:2]))
def test_every_command_line_names_real_commands_and_options(argv: list[str]) -> None:
    command, rest = resolve(argv)
    given = {token.split("=", 1)[0] for token in rest if token.startswith("--")}
    unknown = given - option_names(command)
    assert not unknown, f"arms-sync {' '.join(argv[:2])} has no option {sorted(unknown)}"


def test_every_setting_is_one_the_service_or_the_workers_know() -> None:
    known = {
        PREFIX + name.upper() for name in (*Settings.model_fields, *WorkerSettings.model_fields)
    }
    assert set(compose_environment()) - known == set()


def test_the_settings_are_accepted_as_the_services_read_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    for name, value in compose_environment().items():
        monkeypatch.setenv(name, value)

    settings = load_settings(None)
    workers = load_worker_settings()

    assert settings.database_url.startswith("postgresql://")
    assert workers.broker_url == "redis://redis:6379/0"
    assert workers.feeds() == {
        "probation": "http://probation-gateway:8080",
        "police": "http://police-gateway:8080",
    }


def test_every_arms_sync_service_is_built_from_what_the_repository_holds() -> None:
    services = compose()["services"]
    for name in IMAGE_SERVICES:
        assert services[name]["image"] == "arms-sync:local", name
    dockerfile = services["worker"]["build"]["dockerfile_inline"]
    copied = re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            assert (ROOT / source).exists(), f"the image copies {source}, which is not here"


# The setup script's mount points, each to be replaced by a folder of the test's own.
MOUNT_POINT = re.compile(r"(?<![\w/-])/(gateway-keys|gateway-state|keys|data|reports|state)\b")
SETUP_FOLDERS = (
    "gateway-keys/probation",
    "gateway-keys/police",
    "gateway-state/probation",
    "gateway-state/police",
    "keys",
    "data",
    "reports",
    "state",
)


def setup_script(root: Path) -> str:
    """The setup service's script, run as this user over folders under `root`."""
    script = " ".join(compose()["services"]["setup"]["command"]).replace("$$", "$")
    script = script.replace("chown -R arms", "true").replace("su arms -c", "sh -c")
    return MOUNT_POINT.sub(lambda found: str(root / found.group(1)), script)


def run_setup(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run the setup script over the folders under `root` (made if missing), with this
    installation's `arms-sync` first on the path."""
    for folder in SETUP_FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    programs = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{programs}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["sh", "-c", script], env=environment, capture_output=True, text=True, check=False
    )


def test_the_setup_script_can_run_again_and_keeps_what_it_made(tmp_path: Path) -> None:
    """`docker compose up` runs setup every time; the gateways and workers wait for it."""
    script = setup_script(tmp_path)

    def written() -> dict[Path, tuple[int, bytes]]:
        files = (path for path in tmp_path.rglob("*") if path.is_file())
        return {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in files}

    first = run_setup(tmp_path, script)
    made = written()
    again = run_setup(tmp_path, script)

    assert (first.returncode, again.returncode) == (0, 0), again.stderr[-300:]
    assert "Error" not in again.stderr
    assert written() == made
    assert (tmp_path / "keys" / "ring.json").exists()
    assert (tmp_path / "data" / "probation.jsonl").exists()


def test_each_gateway_gets_only_its_own_private_keys(tmp_path: Path) -> None:
    script = setup_script(tmp_path).replace("--subjects 20000", "--subjects 20")
    assert run_setup(tmp_path, script).returncode == 0

    hub_ring = (tmp_path / "keys" / "ring.json").read_bytes()
    for agency in ("probation", "police"):
        own = tmp_path / "gateway-keys" / agency
        assert (own / "ring.json").read_bytes() == hub_ring
        assert [path.name for path in (own / "private").iterdir()] == [agency]


def test_the_gateways_hold_no_ledger_access_and_not_the_hub_s_keys() -> None:
    services = compose()["services"]
    for agency in ("probation", "police"):
        gateway = services[f"{agency}-gateway"]
        assert not any("DATABASE" in name for name in gateway["environment"])
        assert f"{agency}-keys:/keys:ro" in gateway["volumes"]
        assert not any(volume.startswith("keys:") for volume in gateway["volumes"])


def test_workers_and_beat_are_started_again_when_they_exit() -> None:
    """docs/operations.md: a worker can end its process when the broker vanishes under it."""
    services = compose()["services"]
    assert {name: services[name].get("restart") for name in ("worker", "beat")} == {
        "worker": "unless-stopped",
        "beat": "unless-stopped",
    }


def test_only_setup_and_keys_admin_may_write_the_hub_s_keys_and_keys_admin_has_the_ledger() -> None:
    """docs/operations.md, "Keys": re-encryption and the hub's key rotation run in the
    `keys-admin` service, which mounts the key directory writable and has the ledger's
    settings; every other service reads the keys only."""
    services = compose()["services"]
    writable = {
        name
        for name, service in services.items()
        for volume in service.get("volumes", [])
        if volume.startswith("keys:") and not volume.endswith(":ro")
    }
    assert writable == {"setup", "keys-admin"}
    admin = services["keys-admin"]
    assert admin["entrypoint"] == ["arms-sync"]
    assert admin["profiles"] == ["admin"]
    assert admin["environment"] == services["worker"]["environment"]
