"""Combination entries group whole subjects and name only what linked the subjects in them."""

from __future__ import annotations

import pytest

from sync.audit import pipeline_hooks
from sync.audit.pipeline_hooks import _grouped


def test_each_entry_names_the_methods_of_its_own_subjects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_hooks, "REFS_PER_ENTRY", 5)
    subjects = [
        (("subject:S1", "person:police/A", "person:probation/B"), frozenset({"PNC"})),
        (("subject:S2", "person:police/C", "person:probation/D"), frozenset({"CRO"})),
        (("subject:S3", "person:police/E"), frozenset({"PNC", "MANUAL"})),
    ]
    assert list(_grouped(subjects)) == [
        (("subject:S1", "person:police/A", "person:probation/B"), frozenset({"PNC"})),
        (
            (
                "subject:S2",
                "person:police/C",
                "person:probation/D",
                "subject:S3",
                "person:police/E",
            ),
            frozenset({"CRO", "PNC", "MANUAL"}),
        ),
    ]
