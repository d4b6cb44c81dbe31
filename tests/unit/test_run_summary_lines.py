"""How a run's summary tells its counts: rejects and warnings, nothing found, gateways in order."""

from __future__ import annotations

from datetime import date

from sync.cycle import RunSummary
from sync.ingest import IngestCounts

AS_OF = date(2026, 11, 28)


def summary(**fields: object) -> RunSummary:
    """A summary of run 3 on `AS_OF` with `fields` set."""
    told = RunSummary(run_id=3, as_of=AS_OF)
    for name, value in fields.items():
        setattr(told, name, value)
    return told


def test_rejected_records_are_counted_across_both_feeds_and_pointed_to() -> None:
    feeds = {
        "probation": IngestCounts(read=9, accepted=7, rejected=2, warnings=1),
        "police": IngestCounts(read=5, accepted=4, rejected=1, warnings=4),
    }
    told = list(summary(feeds=feeds).lines())
    assert summary(feeds=feeds).rejected == 3
    assert "3 rejected records: see `arms-sync rejects`." in told
    assert "5 records with warnings: see `arms-sync rejects --warnings`." in told


def test_one_rejected_record_and_one_with_warnings_are_told_in_the_singular() -> None:
    feeds = {
        "probation": IngestCounts(read=3, accepted=2, rejected=1, warnings=1),
        "police": IngestCounts(),
    }
    told = list(summary(feeds=feeds).lines())
    assert "1 rejected record: see `arms-sync rejects`." in told
    assert "1 record with warnings: see `arms-sync rejects --warnings`." in told


def test_a_run_without_rejects_or_warnings_does_not_point_to_them() -> None:
    feeds = {"probation": IngestCounts(read=2, accepted=2), "police": IngestCounts()}
    told = list(summary(feeds=feeds).lines())
    assert not [line for line in told if "arms-sync rejects" in line]
    assert summary(feeds=feeds).rejected == 0


def test_an_agency_whose_feed_failed_before_reading_anything_is_still_named() -> None:
    feeds = {"police": IngestCounts(read=1, accepted=1)}
    errors = {"probation": "The probation gateway could not be reached."}
    told = list(summary(feeds=feeds, feed_errors=errors).lines())
    assert told[:2] == [
        "police: read 1 record, accepted 1, rejected 0, with warnings 0",
        "probation: nothing read (its feed failed before its first page; see below)",
    ]
    assert "The probation gateway could not be reached." in told[-1]


def test_a_feed_that_changed_nothing_counts_zero_and_nothing_found_is_none() -> None:
    feeds = {"probation": IngestCounts(read=1, accepted=1), "police": IngestCounts()}
    told = list(summary(feeds=feeds, changed={"probation": 1}).lines())
    assert "records changed (new, updated or deleted): probation 1, police 0" in told
    assert "owner on 2026-11-28: none" in told
    assert "open flags: none" in told
    assert "review items: none" in told
    assert "link reviews: none" in told


def test_pairs_left_for_a_person_to_link_are_counted_and_pointed_to() -> None:
    """A manager reading only the summary learns that pairs wait for a decision."""
    told = list(summary(review_items={"dob_conflict": 1}, link_reviews=3).lines())
    line = (
        "link reviews: 3 pairs of records to link or keep apart "
        "(`arms-sync reconcile list --kind link-review`)"
    )
    assert told.index(line) == told.index("review items: dob_conflict 1") + 1
    assert "link reviews: 1 pair of" in "\n".join(summary(link_reviews=1).lines())


def test_review_items_are_told_apart_from_the_flags_the_report_counts() -> None:
    """docs/decisions.md: gender and date-of-birth conflicts are review items, not flags."""
    told = list(
        summary(
            open_flags={"duplicate": 2},
            review_items={"dob_conflict": 20, "gender_conflict": 1},
        ).lines()
    )
    assert "open flags: duplicate 2" in told
    assert "review items: dob_conflict 20, gender_conflict 1" in told
    assert told.index("review items: dob_conflict 20, gender_conflict 1") == (
        told.index("open flags: duplicate 2") + 1
    )


def test_a_summary_stored_with_review_items_among_its_flags_is_read_with_them_apart() -> None:
    """A run stored before review items were counted apart reads as one stored since."""
    stored = summary(open_flags={"dob_conflict": 3, "duplicate": 2, "gender_conflict": 1})
    data = stored.as_dict()
    del data["review_items"]

    read = RunSummary.from_dict(data)

    assert read.open_flags == {"duplicate": 2}
    assert read.review_items == {"dob_conflict": 3, "gender_conflict": 1}
    assert RunSummary.from_dict(read.as_dict()) == read


def test_gateways_are_told_notes_first_then_feed_errors_then_delivery_errors_each_by_agency() -> (
    None
):
    told = list(
        summary(
            delivery_notes={"probation": "note two", "police": "note one"},
            feed_errors={"probation": "feed two", "police": "feed one"},
            delivery_errors={"probation": "delivery two", "police": "delivery one"},
        ).lines()
    )
    gateways = [line for line in told if " gateway: " in line]
    assert gateways == [
        "police gateway: note one",
        "probation gateway: note two",
        "police gateway: feed one",
        "probation gateway: feed two",
        "police gateway: delivery one",
        "probation gateway: delivery two",
    ]


def test_nothing_delivered_is_counted_in_the_plural() -> None:
    delivered = {"police": {"notices": 0, "delivered": 0, "pending": 1}}
    told = list(summary(delivered=delivered).lines())
    assert "police gateway: delivered 0 notices in 0 batches, 1 batch waiting" in told


def test_a_stored_summary_with_keys_of_another_kind_of_run_reads_back_without_them() -> None:
    stored = {**summary(subjects=2).as_dict(), "act": "override", "reason_chars": 12}
    assert RunSummary.from_dict(stored) == summary(subjects=2)
