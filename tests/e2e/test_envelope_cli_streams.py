"""`envelope seal`, `open` and `verify`: standard streams, options, reports and refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sync.cli.envelope_cmd import envelope
from sync.cli.keys_cmd import keys
from sync.crypto import Party, load_keyring
from sync.crypto.sealed_file import open_lines, page_of
from sync.errors import InputRefused
from tests.integration.gateway_process import make_keys

pytestmark = pytest.mark.e2e

RECORDS = b"".join(
    json.dumps({"type": "person", "id": f"X{n:06d}", "surname": "SAMPLE"}).encode() + b"\n"
    for n in range(25)
)


def _envelope(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(envelope, list(args), input=stdin)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    """One key directory with every party's keys."""
    directory = tmp_path / "keys"
    make_keys(directory)
    return directory


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """A plain JSON Lines file of 25 synthetic records."""
    path = tmp_path / "probation.jsonl"
    path.write_bytes(RECORDS)
    return path


def _seal(
    key_dir: Path,
    source: str,
    target: str,
    *extra: str,
    stdin: bytes | None = None,
    page_lines: int = 10,
) -> Result:
    return _envelope(
        "seal",
        "--from",
        "probation",
        "--to",
        "hub",
        "--keys",
        str(key_dir),
        "--page-lines",
        str(page_lines),
        *extra,
        source,
        target,
        stdin=stdin,
    )


def test_seal_says_how_many_pages_it_wrote(key_dir: Path, plain: Path, tmp_path: Path) -> None:
    """25 records at 10 a page are 3 envelopes, and the command says so on stderr."""
    sealed = tmp_path / "out.sealed"
    result = _seal(key_dir, str(plain), str(sealed))
    assert result.exit_code == 0, result.output
    assert result.stderr == "Sealed 3 pages from probation to hub.\n"
    assert len(sealed.read_bytes().splitlines()) == 3


def test_seal_and_open_work_through_standard_input_and_output(
    key_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-` as IN or OUT is standard input or output, in both directions; no file is made."""
    monkeypatch.chdir(tmp_path)
    sealed = _seal(key_dir, "-", "-", stdin=RECORDS)
    assert sealed.exit_code == 0, sealed.output
    assert b"SAMPLE" not in sealed.stdout_bytes
    assert len(sealed.stdout_bytes.splitlines()) == 3

    opened = _envelope(
        "open", "--as", "hub", "--keys", str(key_dir), "-", "-", stdin=sealed.stdout_bytes
    )

    assert opened.exit_code == 0, opened.output
    assert opened.stdout_bytes == RECORDS
    assert not (tmp_path / "-").exists()


def test_the_content_type_given_is_sealed_into_every_page(
    key_dir: Path, plain: Path, tmp_path: Path
) -> None:
    """`--content-type` names what the pages hold, for the recipient to check."""
    sealed = tmp_path / "out.sealed"
    result = _seal(key_dir, str(plain), str(sealed), "--content-type", "application/x-sample")
    assert result.exit_code == 0, result.output

    with sealed.open("rb") as lines:
        opened = list(
            open_lines(lines, keyring=load_keyring(key_dir, Party.HUB), now=datetime.now(UTC))
        )

    assert len(opened) == 3
    assert {page_of(page.header.content_type)[0] for page in opened} == {"application/x-sample"}


def test_fewer_than_one_record_a_page_is_bad_usage(
    key_dir: Path, plain: Path, tmp_path: Path
) -> None:
    """`--page-lines 0` is refused as bad usage and writes nothing."""
    sealed = tmp_path / "out.sealed"
    result = _seal(key_dir, str(plain), str(sealed), page_lines=0)
    assert result.exit_code == 2
    assert not sealed.exists()


@pytest.mark.parametrize("command", ["seal", "open", "verify"])
def test_an_input_file_that_does_not_exist_is_refused(
    key_dir: Path, tmp_path: Path, command: str
) -> None:
    """A missing IN is unreadable input (exit 2) naming the file, and no OUT is made."""
    missing, out = tmp_path / "missing.jsonl", tmp_path / "out.jsonl"
    parties = {
        "seal": ["--from", "probation", "--to", "hub"],
        "open": ["--as", "hub"],
        "verify": [],
    }[command]
    outputs = [] if command == "verify" else [str(out)]

    result = _envelope(command, *parties, "--keys", str(key_dir), str(missing), *outputs)

    assert isinstance(result.exception, InputRefused)
    assert result.exception.exit_code == 2
    assert str(missing) in str(result.exception)
    assert not out.exists()


def test_a_directory_with_one_party_s_private_keys_opens_without_as(tmp_path: Path) -> None:
    """The hub's own key directory, holding only its private keys, needs no `--as`."""
    runner = CliRunner()
    hub, probation = tmp_path / "hub", tmp_path / "probation"
    for party, directory in (("hub", hub), ("probation", probation)):
        made = runner.invoke(keys, ["generate", "--party", party, "--dir", str(directory)])
        assert made.exit_code == 0, made.output
    for party, into, ring in (("probation", hub, probation), ("hub", probation, hub)):
        imported = runner.invoke(
            keys, ["import", "--party", party, "--dir", str(into), str(ring / "ring.json")]
        )
        assert imported.exit_code == 0, imported.output
    plain, sealed, opened = tmp_path / "in.jsonl", tmp_path / "in.sealed", tmp_path / "out.jsonl"
    plain.write_bytes(RECORDS)
    assert _seal(probation, str(plain), str(sealed)).exit_code == 0

    result = _envelope("open", "--keys", str(hub), str(sealed), str(opened))

    assert result.exit_code == 0, result.output
    same = opened.read_bytes() == RECORDS
    assert same  # the records name synthetic people: never print them


def test_a_directory_with_two_parties_private_keys_needs_as(plain: Path, tmp_path: Path) -> None:
    """With the private keys of two parties, `open` does not guess which one it is."""
    runner = CliRunner()
    both = tmp_path / "both"
    for party in ("hub", "probation"):
        made = runner.invoke(keys, ["generate", "--party", party, "--dir", str(both)])
        assert made.exit_code == 0, made.output
    sealed, opened = tmp_path / "in.sealed", tmp_path / "out.jsonl"
    assert _seal(both, str(plain), str(sealed)).exit_code == 0

    result = _envelope("open", "--keys", str(both), str(sealed), str(opened))

    assert result.exit_code == 2
    assert "--as" in result.stderr
    assert not opened.exists()


def test_opening_a_file_without_envelopes_says_so(key_dir: Path, tmp_path: Path) -> None:
    """An empty sealed file opens to an empty output, with a sentence on stderr."""
    empty, opened = tmp_path / "empty.sealed", tmp_path / "out.jsonl"
    empty.write_bytes(b"")

    result = _envelope("open", "--as", "hub", "--keys", str(key_dir), str(empty), str(opened))

    assert result.exit_code == 0, result.output
    assert result.stderr == "The sealed file holds no envelopes.\n"
    assert opened.read_bytes() == b""


def test_verifying_a_file_without_envelopes_is_refused(key_dir: Path, tmp_path: Path) -> None:
    """A relay is never told an empty (or blank) file verifies."""
    empty = tmp_path / "empty.sealed"
    empty.write_bytes(b"\n\n")

    result = _envelope("verify", "--keys", str(key_dir), str(empty))

    assert isinstance(result.exception, InputRefused)
    assert result.exception.exit_code == 2
    assert str(result.exception) == (
        f"The file {empty} holds no envelopes, so no signature can be checked."
    )


def test_verify_skips_blank_lines_and_reports_on_standard_output(
    key_dir: Path, plain: Path, tmp_path: Path
) -> None:
    """Blank lines between envelopes are not envelopes; the verdict is the command's output."""
    sealed = tmp_path / "out.sealed"
    assert _seal(key_dir, str(plain), str(sealed)).exit_code == 0
    sealed.write_bytes(b"\n" + b"\n\n".join(sealed.read_bytes().splitlines()) + b"\n\n")

    result = _envelope("verify", "--keys", str(key_dir), str(sealed))

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "3 envelopes, sealed by probation to hub: every outer signature verifies.\n"
    )


def test_a_file_of_one_envelope_verifies(key_dir: Path, plain: Path, tmp_path: Path) -> None:
    """All 25 records fit one page by default; that single envelope verifies."""
    sealed = tmp_path / "out.sealed"
    sealed_result = _envelope(
        "seal", "--from", "probation", "--to", "hub", "--keys", str(key_dir),
        str(plain), str(sealed),
    )  # fmt: skip
    assert sealed_result.exit_code == 0, sealed_result.output

    result = _envelope("verify", "--keys", str(key_dir), str(sealed))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 envelope, sealed by probation to hub")


def test_a_refused_envelope_is_named_by_its_place_and_its_file(
    key_dir: Path, plain: Path, tmp_path: Path
) -> None:
    """`open` names the envelope and the file that failed, as `verify` and `run` do, and
    writes nothing."""
    sealed, opened = tmp_path / "probation.sealed", tmp_path / "out.jsonl"
    assert _seal(key_dir, str(plain), str(sealed)).exit_code == 0
    first, second, third = sealed.read_bytes().splitlines()
    tampered = json.loads(second)
    tampered["sig"] = tampered["sig"][:-4] + ("AAAA" if tampered["sig"][-4:] != "AAAA" else "BBBB")
    sealed.write_bytes(b"\n".join([first, json.dumps(tampered).encode(), third]) + b"\n")

    result = _envelope("open", "--as", "hub", "--keys", str(key_dir), str(sealed), str(opened))

    assert isinstance(result.exception, InputRefused)
    assert str(result.exception).startswith(
        "envelope 2 of the sealed file probation.sealed cannot be opened: "
    )
    assert not opened.exists()


def test_a_plain_file_given_to_open_is_refused_at_its_first_line(
    key_dir: Path, plain: Path, tmp_path: Path
) -> None:
    opened = tmp_path / "out.jsonl"
    result = _envelope("open", "--as", "hub", "--keys", str(key_dir), str(plain), str(opened))
    assert isinstance(result.exception, InputRefused)
    assert "envelope 1 of the sealed file probation.jsonl" in str(result.exception)
