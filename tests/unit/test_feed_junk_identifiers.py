"""Identifiers set aside or kept as a feed is read: zeros in any layout, PNCs without a slash."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.core import identifiers as ids
from sync.feeds.jsonl import validate_record
from sync.feeds.models import FeedContext, PersonRecord
from tests.feed_records import person

PROBATION = FeedContext("probation", date(2026, 11, 28))


def _person(**identifiers: object) -> bytes:
    return json.dumps(person("probation", "X123456", **identifiers)).encode()


def _zeros(least: int, most: int) -> st.SearchStrategy[str]:
    return st.integers(least, most).map(lambda width: "0" * width)


@st.composite
def zero_pncs(draw: st.DrawFn) -> str:
    """A PNC of zeros in any accepted layout: 2 or 4 year digits, any serial width."""
    year = draw(st.sampled_from(["00", "0000"]))
    slash = draw(st.sampled_from(["/", ""]))
    letter = draw(st.sampled_from(["Z", "z"]))
    return f"{year}{slash}{draw(_zeros(1, 7))}{letter}"


@st.composite
def zero_cros(draw: st.DrawFn) -> str:
    """A CRO of zeros in the standard or the short (`SF`) form."""
    if draw(st.booleans()):
        return f"{draw(_zeros(1, 6))}/00Z"
    return f"SF00/{draw(_zeros(1, 6))}Z"


@st.composite
def zero_serial_pncs(draw: st.DrawFn) -> str:
    """A check-valid PNC of a real year whose serial is zeros, with a two- or four-digit year.

    With its slash: without it, such a number may also read as another valid one,
    and is set aside for that.
    """
    yy = draw(st.integers(1, 99))
    year = draw(st.sampled_from([f"{yy:02d}", f"{1900 + yy}", f"{2000 + yy}"]))
    letter = ids.check_letter(yy * 10**ids.PNC_SERIAL_WIDTH)
    return f"{year}/{draw(_zeros(1, 7))}{letter}"


@st.composite
def zero_serial_cros(draw: st.DrawFn) -> str:
    """A check-valid CRO of a real year whose serial is zeros, standard or short (`SF`)."""
    yy = draw(st.integers(1, 99))
    serial = draw(_zeros(1, 6))
    if draw(st.booleans()):
        return f"{serial}/{yy:02d}{ids.check_letter(yy * 10**6)}"
    return f"SF{yy:02d}/{serial}{ids.check_letter(yy * 10 ** len(serial))}"


@given(st.one_of(zero_pncs(), zero_serial_pncs()))
def test_a_pnc_of_zeros_or_of_a_zero_serial_is_set_aside_in_every_layout(pnc: str) -> None:
    """No PNC is issued with serial zero: a year before zeros is a placeholder still."""
    record = validate_record(_person(pnc=pnc), PROBATION)
    assert isinstance(record, PersonRecord)
    assert record.pnc is None
    assert record.warnings == ("pnc: placeholder value, treated as absent",)


@given(st.one_of(zero_cros(), zero_serial_cros()))
def test_a_cro_of_zeros_or_of_a_zero_serial_is_set_aside_in_every_layout(cro: str) -> None:
    record = validate_record(_person(cro=cro), PROBATION)
    assert isinstance(record, PersonRecord)
    assert record.cro is None
    assert record.warnings == ("cro: placeholder value, treated as absent",)


def test_a_two_digit_year_of_zeros_is_junk_and_so_is_its_canonical_form() -> None:
    assert ids.canonical_pnc("00/0000000Z", date(2026, 11, 28)) == "2000/0000000Z"
    assert ids.is_junk_identifier("00/0000000Z")
    assert ids.is_junk_identifier("2000/0000000Z")


def test_a_real_identifier_with_zeros_in_it_is_kept() -> None:
    record = validate_record(_person(pnc="2000/0000001A", cro="000001/00A"), PROBATION)
    assert isinstance(record, PersonRecord)
    assert (record.pnc, record.cro, record.warnings) == ("2000/0000001A", "000001/00A", ())


def test_a_pnc_without_its_slash_is_kept_when_one_reading_fits_and_set_aside_when_two_do() -> None:
    fits_once = validate_record(_person(pnc="200273319Z"), PROBATION)
    assert isinstance(fits_once, PersonRecord)
    assert (fits_once.pnc, fits_once.warnings) == ("2002/0073319Z", ())
    fits_twice = validate_record(_person(pnc="20222620G"), PROBATION)
    assert isinstance(fits_twice, PersonRecord)
    assert fits_twice.pnc is None
    assert fits_twice.warnings == (
        "pnc: without its slash it reads as two different valid numbers, set aside",
    )


@pytest.mark.parametrize("blank", ["", "   "], ids=["empty", "spaces"])
def test_an_empty_identifier_is_treated_as_absent_with_a_warning(blank: str) -> None:
    record = validate_record(_person(pnc=blank, cro=blank, noms=blank), PROBATION)
    assert isinstance(record, PersonRecord)
    assert (record.pnc, record.cro, record.noms) == (None, None, None)
    assert record.warnings == (
        "pnc: empty, set aside",
        "cro: empty, set aside",
        "noms: empty, treated as absent",
    )


def test_a_null_identifier_is_absent_without_a_warning() -> None:
    record = validate_record(_person(pnc=None, cro=None, noms=None), PROBATION)
    assert isinstance(record, PersonRecord)
    assert (record.pnc, record.cro, record.noms, record.warnings) == (None, None, None, ())
