"""`arms-sync synth` and `demo`: their option bounds and what `synth` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli.main import cli

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (
            ("synth", "--subjects", "0"),
            "Invalid value for '--subjects': 0 is not in the range x>=1.",
        ),
        (("synth", "--noise", "1.5"), "Invalid value for '--noise': 1.5 is not in the range"),
        (
            ("demo", "--subjects", "9"),
            "Invalid value for '--subjects': 9 is not in the range x>=10.",
        ),
    ],
    ids=["no-subjects", "noise-above-one", "demo-too-few"],
)
def test_a_count_or_share_out_of_range_is_refused_before_anything_is_written(
    tmp_path: Path, args: tuple[str, ...], sentence: str
) -> None:
    """Out-of-range options are usage errors (exit 2) and leave the output folder unmade."""
    out = tmp_path / "out"

    result = CliRunner().invoke(cli, [*args, "--out", str(out)])

    assert result.exit_code == 2
    assert sentence in result.output
    assert not out.exists()


def test_the_demo_refuses_a_file_as_its_output_folder(tmp_path: Path) -> None:
    """`demo --out` names a folder; a file of that name is a usage error, left as it was."""
    taken = tmp_path / "SAMPLE.txt"
    taken.write_text("SAMPLE")

    result = CliRunner().invoke(cli, ["demo", "--out", str(taken)])

    assert result.exit_code == 2
    assert "is a file" in result.output
    assert taken.read_text() == "SAMPLE"


def test_synth_names_its_files_and_its_date_then_prints_its_counts_as_sorted_json(
    tmp_path: Path,
) -> None:
    """The first line says what was written, as of when; the second is the counts as JSON."""
    out = tmp_path / "feeds"

    result = CliRunner().invoke(
        cli, ["synth", "--subjects", "3", "--seed", "5", "--as-of", "2027-01-31", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    told, counts = result.output.splitlines()
    assert told == (
        f"wrote {out / 'probation.jsonl'}, {out / 'police.jsonl'}, {out / 'truth.jsonl'} "
        "(as of 2027-01-31, seed 5)"
    )
    parsed = json.loads(counts)
    assert isinstance(parsed, dict)
    assert parsed
    assert counts == json.dumps(parsed, sort_keys=True)
