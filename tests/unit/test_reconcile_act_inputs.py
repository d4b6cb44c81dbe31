"""What a manual act takes from its operator: operator, reason, records, dates and act ids."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.audit.chain import looks_like_identifier
from sync.audit.pipeline_hooks import MAX_OPERATOR_CHARS, checked_operator, cli_actor
from sync.core.records import Agency, RecordRef
from sync.errors import UsageError
from sync.reconcile.acts import (
    MAX_REASON_CHARS,
    Actor,
    as_given,
    new_act_id,
    parse_record_ref,
    require_actor,
    require_date_range,
    require_operator,
    vanished_subject_message,
)

REASON = "agreed at the MAPPA meeting"


@pytest.mark.parametrize("operator", [None, "", "   "])
def test_a_missing_or_blank_operator_is_refused(operator: str | None) -> None:
    with pytest.raises(UsageError, match="An operator is required"):
        require_operator(operator)


def test_the_operator_is_kept_without_surrounding_blanks() -> None:
    assert require_operator("  jsmith \n") == "jsmith"


def test_an_operator_of_the_longest_length_is_taken_and_one_longer_refused() -> None:
    longest = "o" * MAX_OPERATOR_CHARS
    assert require_operator(longest) == longest
    with pytest.raises(UsageError, match="at most"):
        require_operator(longest + "o")


def test_an_operator_with_control_characters_is_refused() -> None:
    with pytest.raises(UsageError, match="plain text"):
        require_operator("j\x1bsmith")


@pytest.mark.parametrize("operator", ["1985/1234567N", "85/1234567N", "000001/61A"])
def test_an_operator_shaped_like_a_pnc_or_cro_is_bad_usage(operator: str) -> None:
    """The audit log names operators and never holds such a number: refused as input (exit 2),
    for an act and for a consultation alike."""
    sentence = "not something shaped like a PNC or CRO number"
    with pytest.raises(UsageError, match=sentence):
        require_operator(operator)
    with pytest.raises(UsageError, match=sentence):
        cli_actor(operator)
    assert cli_actor("j.smith/PPU") == "operator:j.smith/PPU"


@pytest.mark.parametrize("operator", ["o" * (MAX_OPERATOR_CHARS + 1), "p" * 95, "j\tsmith"])
def test_a_consultation_refuses_the_names_an_act_refuses_in_the_same_words(operator: str) -> None:
    """A listing or an export names its operator in the audit log as an act does: the same
    rule, exit 2, one sentence that never repeats the name."""
    with pytest.raises(UsageError) as act:
        require_operator(operator)
    with pytest.raises(UsageError) as consultation:
        cli_actor(operator)
    assert str(act.value) == str(consultation.value)
    assert str(act.value) == "The operator must be plain text of at most 80 characters."


def test_an_operator_named_in_any_script_is_taken_and_counted_in_characters() -> None:
    """Plain text is any printable text, not ASCII only; the limit counts characters."""
    assert require_operator(" Siân Ó Dúill ") == "Siân Ó Dúill"
    longest = "é" * MAX_OPERATOR_CHARS
    assert require_operator(longest) == longest
    assert cli_actor(longest) == f"operator:{longest}"


@given(st.text(max_size=MAX_OPERATOR_CHARS + 8))
def test_an_operator_is_taken_exactly_when_it_is_short_printable_text_and_no_identifier(
    given_name: str,
) -> None:
    """The one rule every command applies: blank is no operator; otherwise the trimmed
    name is taken when at most the limit, printable and not shaped like a PNC or CRO."""
    name = given_name.strip()
    acceptable = (
        len(name) <= MAX_OPERATOR_CHARS and name.isprintable() and not looks_like_identifier(name)
    )
    if not name:
        assert checked_operator(given_name) is None
    elif acceptable:
        assert checked_operator(given_name) == name
    else:
        with pytest.raises(UsageError):
            checked_operator(given_name)


def test_a_refusal_says_where_the_operator_came_from() -> None:
    with pytest.raises(UsageError, match=r"^The operator set in ARMS_SYNC_OPERATOR must be "):
        checked_operator("q" * 95, "set in ARMS_SYNC_OPERATOR")
    with pytest.raises(UsageError, match=r"^The operator given with --operator must be a per"):
        checked_operator("85/1234567N", "given with --operator")
    assert checked_operator("  ", "given with --operator") is None
    assert checked_operator(" jsmith ") == "jsmith"


@pytest.mark.parametrize("reason", [None, "", " \t "])
def test_a_missing_or_blank_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(UsageError, match="A reason is required"):
        require_actor("jsmith", reason)


def test_the_actor_keeps_operator_and_reason_without_surrounding_blanks() -> None:
    assert require_actor(" jsmith ", f"  {REASON}\n") == Actor("jsmith", REASON)


def test_a_reason_of_the_longest_length_is_taken_and_one_longer_refused() -> None:
    longest = "r" * MAX_REASON_CHARS
    assert require_actor("jsmith", longest).reason == longest
    with pytest.raises(UsageError, match="at most"):
        require_actor("jsmith", longest + "r")


def test_the_audit_log_names_the_actor_as_an_operator() -> None:
    assert Actor("jsmith", REASON).audit_actor == "operator:jsmith"


def test_act_ids_carry_their_prefix_and_sixteen_upper_case_hex_digits() -> None:
    first, second = new_act_id("OVR"), new_act_id("OVR")
    assert re.fullmatch(r"OVR-[0-9A-F]{16}", first)
    assert first != second


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("probation:X600001", RecordRef(Agency.PROBATION, "X600001")),
        ("police:LAN-2", RecordRef(Agency.POLICE, "LAN-2")),
        ("police/LAN-2", RecordRef(Agency.POLICE, "LAN-2")),
        ("probation/X600001", RecordRef(Agency.PROBATION, "X600001")),
        ("police: LAN-2 ", RecordRef(Agency.POLICE, "LAN-2")),
    ],
)
def test_a_record_is_taken_as_agency_colon_or_slash_id(text: str, expected: RecordRef) -> None:
    assert parse_record_ref(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("probation:k000001", RecordRef(Agency.PROBATION, "K000001")),
        ("probation/ x600001 ", RecordRef(Agency.PROBATION, "X600001")),
        ("police:lan-2", RecordRef(Agency.POLICE, "lan-2")),  # opaque: kept as given
    ],
)
def test_a_record_reference_is_read_as_its_agencys_feed_reads_it(
    text: str, expected: RecordRef
) -> None:
    """identifiers.md: a CRN is upper-case after trimming; a police reference is opaque."""
    assert parse_record_ref(text) == expected


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("probation:X1", "it must be one letter and six digits."),
        ("probation:\u0131123456", "it must be one letter and six digits."),
        ("police:LAN 2", "it must be 1-32 letters, digits or hyphens."),
    ],
)
def test_a_reference_its_agency_could_never_send_is_refused_without_repeating_it(
    text: str, rule: str
) -> None:
    agency, _, given = text.partition(":")
    with pytest.raises(UsageError) as refused:
        parse_record_ref(text)
    assert str(refused.value) == (
        f"The {agency} person record given is not a valid reference: {rule}"
    )
    assert given not in str(refused.value)


@pytest.mark.parametrize(
    "text", ["X600001", "probation:", "probation/", "court:X600001", "Probation:X1", ":X1"]
)
def test_a_record_without_a_known_agency_and_an_id_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="probation:ID or police:ID"):
        parse_record_ref(text)


def test_a_range_of_one_day_is_taken_and_a_reversed_one_refused() -> None:
    require_date_range(date(2025, 6, 1), date(2025, 6, 1))
    require_date_range(date(2025, 6, 1), None)
    with pytest.raises(UsageError, match="is after its end"):
        require_date_range(date(2025, 6, 2), date(2025, 6, 1))


def test_a_vanished_subject_names_its_one_holder() -> None:
    assert vanished_subject_message("S1", ["S2"]) == (
        "Subject S1 no longer exists: its records are now in subject S2; use that id."
    )


def test_a_vanished_subject_names_its_holders_in_the_order_given() -> None:
    assert vanished_subject_message("S1", ["S2", "S3"]) == (
        "Subject S1 no longer exists: its records are now in subjects S2 and S3; use those ids."
    )
    assert vanished_subject_message("S1", ["S4", "S2", "S3"]).endswith(
        "now in subjects S4, S2 and S3; use those ids."
    )


def test_a_vanished_subject_whose_records_were_all_deleted_says_so() -> None:
    assert vanished_subject_message("S1", []) == (
        "Subject S1 no longer exists: its records were all deleted by their agencies."
    )


def test_a_subject_that_vanished_before_holders_were_kept_points_to_the_links_export() -> None:
    message = vanished_subject_message("S1", None)
    assert message.startswith("Subject S1 no longer exists: it was re-linked before")
    assert "`arms-sync export links`" in message


@pytest.mark.parametrize(
    "typed", ["QUILLFEATHER Ottoline", "1961-02-03", "1985/1234567N", "OVR 12", "ottoline"]
)
def test_a_reference_typed_as_a_name_date_or_number_is_not_repeated(typed: str) -> None:
    assert as_given("Override", typed) == "The override given"


def test_a_reference_shaped_like_an_id_is_repeated() -> None:
    assert as_given("Subject", "S0000000000000000") == "Subject S0000000000000000"
    assert as_given("Override", "OVR-1A2B3C4D5E6F7A8B") == "Override OVR-1A2B3C4D5E6F7A8B"
