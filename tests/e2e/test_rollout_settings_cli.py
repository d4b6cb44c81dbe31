"""The roll-out test at its edges, with training dates from a settings file, through the CLI.

`ownership-policy.md`: under `PROB-SEXUAL` ARMS is mandatory when the governing
supervision started on or after T - 6 months (community and suspended
sentence orders), or on or after T, or on or after T - 6 months and planned for
more than 12 months (licences, post-sentence supervision); T is the training
date of the probation area. Here T comes from the settings file: one area in
the `training_dates` table (its key and the records' area in other cases) and
a changed `default_training_date` for every other area.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feed_records import STAMP, person, run_args, write_feeds

pytestmark = pytest.mark.e2e

SETTINGS = """\
[arms_sync]
default_training_date = 2016-04-30
[arms_sync.training_dates]
sw = 2016-08-31
"""

# (CRN, area, kind, start, end, mandatory). SW: T = 2016-08-31, T - 6 months =
# 2016-02-29 (the day exists in 2016). Elsewhere: T = 2016-04-30, T - 6 months
# = 2015-10-30, and twelve months after 2015-10-30 is 2016-10-30.
CASES = [
    ("A000001", "SW", "community_order", "2016-02-28", "2017-12-31", False),
    ("A000002", "SW", "community_order", "2016-02-29", "2017-12-31", True),
    ("A000003", "Sw", "licence", "2016-08-30", "2016-12-31", False),
    ("A000004", "sw", "licence", "2016-08-31", "2016-12-31", True),
    ("A000005", "ZZ", "suspended_sentence_order", "2015-10-29", "2017-12-31", False),
    ("A000006", "ZZ", "suspended_sentence_order", "2015-10-30", "2017-12-31", True),
    ("A000007", "NW", "post_sentence_supervision", "2015-10-30", "2016-10-30", False),
    ("A000008", "NW", "post_sentence_supervision", "2015-10-30", "2016-10-31", True),
    ("A000009", "NW", "licence", "2015-10-29", "2018-12-31", False),
]


def _feeds(folder: Path) -> list[str]:
    probation: list[dict[str, object]] = []
    for index, (crn, area, kind, start, end, _) in enumerate(CASES):
        probation.append(
            person("probation", crn, area=area, surname=f"ROLLOUT{index}", forenames=f"CASE{index}")
        )
        probation.append(
            {
                "type": "supervision",
                "agency": "probation",
                "id": f"S-{crn}",
                "person_id": crn,
                "kind": kind,
                "offence": "sexual",
                "start": start,
                "end": end,
                "updated_at": STAMP,
            }
        )
    return run_args(*write_feeds(folder, probation, []))


def test_training_dates_from_the_settings_file_decide_mandatory(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(SETTINGS)
    config = ["--config", str(settings)]
    run_cli(*config, *_feeds(tmp_path), cwd=tmp_path)

    timeline = run_cli(*config, "export", "timeline", cwd=tmp_path).stdout
    decided = {}
    for line in timeline.splitlines():
        subject = json.loads(line)
        (record,) = subject["records"]
        decided[record["person_id"]] = [
            (s["from"], s["to"], s["rule"], s["mandatory"])
            for s in subject["segments"]
            if s["owner"] == "probation"
        ]
    assert decided == {
        crn: [(start, end, "PROB-SEXUAL", mandatory)] for crn, _, _, start, end, mandatory in CASES
    }
