"""Every test vector of spec/identifiers.md, plus the junk and reference rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.core import identifiers as ids

TODAY = date(2026, 11, 28)

PNC_VECTORS = [
    ("2002/0073319Z", "2002/0073319Z"),
    ("1979/0163001B", "1979/0163001B"),
    ("79/163001B", "1979/0163001B"),
    ("1981/0000034U", "1981/0000034U"),
    ("1967/9893091D", "1967/9893091D"),
    ("2012/0052494Q", "2012/0052494Q"),
]
CRO_VECTORS = [("65656/91H", "065656/91H"), ("SF83/50058Z", "SF83/50058Z")]


@pytest.mark.parametrize(("raw", "canonical"), PNC_VECTORS)
def test_valid_pnc_vectors(raw: str, canonical: str) -> None:
    assert ids.canonical_pnc(raw, TODAY) == canonical


@pytest.mark.parametrize("raw", ["2001/0171310S", "2018/0123456X"])
def test_invalid_pnc_vectors(raw: str) -> None:
    with pytest.raises(ids.InvalidIdentifier, match="check letter"):
        ids.canonical_pnc(raw, TODAY)


@pytest.mark.parametrize(("raw", "canonical"), CRO_VECTORS)
def test_valid_cro_vectors(raw: str, canonical: str) -> None:
    assert ids.canonical_cro(raw) == canonical


@pytest.mark.parametrize("raw", ["SF80/655108T", "123456/24A"])
def test_invalid_cro_vectors(raw: str) -> None:
    with pytest.raises(ids.InvalidIdentifier, match="check letter"):
        ids.canonical_cro(raw)


def test_pnc_input_forms_are_forgiving() -> None:
    assert ids.canonical_pnc("  02/73319z ", TODAY) == "2002/0073319Z"
    assert ids.canonical_pnc("20020073319Z", TODAY) == "2002/0073319Z"


@pytest.mark.parametrize(("raw", "canonical"), PNC_VECTORS)
def test_valid_pnc_vectors_without_their_slash_or_padding(raw: str, canonical: str) -> None:
    year, serial = raw.split("/")
    unpadded = serial[:-1].lstrip("0") + serial[-1]
    for written in (year + serial, year + unpadded, year[-2:] + unpadded):
        assert ids.canonical_pnc(written, TODAY) == canonical


def test_a_pnc_without_its_slash_is_read_with_whichever_year_width_its_check_letter_fits() -> None:
    # 199915X: a two-digit year reads 19/9915X (check letter wrong), a four-digit one 1999/15X.
    assert ids.canonical_pnc("199915X", TODAY) == "1999/0000015X"
    assert ids.canonical_pnc("1999/15X", TODAY) == "1999/0000015X"


def test_a_pnc_without_its_slash_that_reads_validly_two_ways_is_refused() -> None:
    # 2022/2620G and 20/222620G (2020/0222620G) both carry the right check letter.
    assert ids.canonical_pnc("2022/2620G", TODAY) == "2022/0002620G"
    assert ids.canonical_pnc("20/222620G", TODAY) == "2020/0222620G"
    with pytest.raises(ids.InvalidIdentifier, match="two different valid numbers"):
        ids.canonical_pnc("20222620G", TODAY)


@given(year=st.integers(1900, 2026), serial=st.integers(1, 9_999_999))
def test_a_pnc_written_without_slash_or_padding_is_its_own_number_or_refused(
    year: int, serial: int
) -> None:
    letter = ids.check_letter(int(f"{year % 100:02d}{serial:07d}"))
    canonical = f"{year:04d}/{serial:07d}{letter}"
    written = f"{year}{serial}{letter}"
    digits = f"{year}{serial}"
    two_digit_year_reading = f"{digits[:2]}/{digits[2:]}{letter}"
    other_is_valid = len(digits) <= 9 and _is_valid_pnc(two_digit_year_reading)
    if other_is_valid and ids.canonical_pnc(two_digit_year_reading, TODAY) != canonical:
        with pytest.raises(ids.InvalidIdentifier, match="two different valid numbers"):
            ids.canonical_pnc(written, TODAY)
    else:
        assert ids.canonical_pnc(written, TODAY) == canonical


def _is_valid_pnc(raw: str) -> bool:
    try:
        ids.canonical_pnc(raw, TODAY)
    except ids.InvalidIdentifier:
        return False
    return True


def test_two_digit_year_pivots_on_the_current_year() -> None:
    assert ids.expand_two_digit_year(26, TODAY) == 2026
    assert ids.expand_two_digit_year(27, TODAY) == 1927


def test_padding_changes_the_short_form_check_letter() -> None:
    # SF83/50058Z is valid unpadded; padding the serial would give B instead.
    assert ids.check_letter(int("83" + "050058")) == "B"
    with pytest.raises(ids.InvalidIdentifier):
        ids.canonical_cro("SF83/50058B")


def test_junk_identifiers() -> None:
    assert ids.is_junk_identifier(ids.canonical_cro("000000/00Z"))
    assert ids.is_junk_identifier("0000/0000000Z")
    assert not ids.is_junk_identifier("065656/91H")


def test_error_messages_never_carry_the_value() -> None:
    with pytest.raises(ids.InvalidIdentifier) as caught:
        ids.canonical_pnc("2018/0123456X", TODAY)
    assert "0123456" not in str(caught.value)


@pytest.mark.parametrize(
    ("func", "raw", "canonical"),
    [
        (ids.canonical_crn, " x123456 ", "X123456"),
        (ids.canonical_noms, " A1234BC ", "A1234BC"),
        (ids.canonical_police_ref, " LAN-88123 ", "LAN-88123"),
        (ids.canonical_police_ref, "\tlan-1\n", "lan-1"),
    ],
)
def test_agency_references_are_trimmed_and_only_a_crn_upper_cased(
    func: Callable[[str], str], raw: str, canonical: str
) -> None:
    assert func(raw) == canonical


@pytest.mark.parametrize(
    ("func", "bad"),
    [
        (ids.canonical_crn, "X12345"),
        (ids.canonical_noms, "A1234B1"),
        (ids.canonical_police_ref, "has space"),
    ],
)
def test_agency_references_of_the_wrong_form_are_refused(
    func: Callable[[str], str], bad: str
) -> None:
    with pytest.raises(ids.InvalidIdentifier):
        func(bad)


@pytest.mark.parametrize(
    ("func", "raw"),
    [
        (ids.canonical_crn, "X1234567"),  # seven digits
        (ids.canonical_crn, "123456"),  # no letter
        (ids.canonical_noms, "a1234BC"),
        (ids.canonical_noms, "A1234bc"),
        (ids.canonical_noms, "A123BC"),  # three digits
        (ids.canonical_noms, "A12345BC"),  # five digits
        (ids.canonical_noms, "A1234B"),  # one closing letter
        (ids.canonical_police_ref, "P" * 33),
        (ids.canonical_police_ref, "LAN_1"),
    ],
)
def test_agency_references_outside_their_pattern_are_refused(func: object, raw: str) -> None:
    assert callable(func)
    with pytest.raises(ids.InvalidIdentifier):
        func(raw)


@pytest.mark.parametrize("raw", ["P" * 32, "P", "lan-1", "LAN-0001"])
def test_police_references_of_1_to_32_letters_digits_or_hyphens_are_kept(raw: str) -> None:
    assert ids.canonical_police_ref(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "2002/12345678U",  # an eight-digit serial, whatever its check letter
        "2002/12345678A",
        "1999F",  # a year with no serial
    ],
)
def test_pnc_serials_are_1_to_7_digits(raw: str) -> None:
    with pytest.raises(ids.InvalidIdentifier):
        ids.canonical_pnc(raw, TODAY)


@pytest.mark.parametrize(
    "raw",
    [
        "1234567/91E",  # a seven-digit serial
        "SF83/1234567H",
        "F83/50058Z",  # the short form without its SF
        "6565691H",  # the standard form without its slash
    ],
)
def test_cro_numbers_outside_both_forms_are_refused(raw: str) -> None:
    with pytest.raises(ids.InvalidIdentifier):
        ids.canonical_cro(raw)


def test_a_number_with_one_non_zero_digit_is_not_junk() -> None:
    assert ids.canonical_pnc("00/0000001A", TODAY) == "2000/0000001A"
    assert not ids.is_junk_identifier("00/0000001A")
    assert ids.is_junk_identifier("00/0000000Z")


def test_a_noms_number_is_not_upper_cased_unlike_a_crn() -> None:
    assert ids.canonical_crn("x123456") == "X123456"
    with pytest.raises(ids.InvalidIdentifier, match="capital"):
        ids.canonical_noms("a1234bc")


def test_system_prefixes_are_found_in_any_case_only_at_the_start() -> None:
    assert ids.has_system_prefix("mig_error_SMITH")
    assert ids.has_system_prefix("NO_SHOW_JONES")
    assert not ids.has_system_prefix("SMITH_MIG_ERROR_")
    assert not ids.has_system_prefix("NO_SHOWMAN")


def test_system_prefixes_are_stripped() -> None:
    assert ids.strip_system_prefix("MIG_ERROR_SMITH") == "SMITH"
    assert ids.strip_system_prefix("dupLICATE_Jones") == "Jones"
    assert ids.strip_system_prefix("NO_SHOWMAN") == "NO_SHOWMAN"


@pytest.mark.parametrize(
    "written",
    [
        "MIG-ERROR-SMITH",
        "MIG ERROR SMITH",
        "mig_error smith",
        "DUPLICATE_MIG_ERROR_SMITH",
        "NOSHOW_SMITH",
    ],
)
def test_system_prefixes_are_stripped_however_they_are_joined_and_however_many(
    written: str,
) -> None:
    assert ids.has_system_prefix(written)
    assert ids.strip_system_prefix(written).upper() == "SMITH"


@pytest.mark.parametrize("name", ["DUPLICATES", "NOSHOWER", "MIGERRORS", "ERROR_SMITH"])
def test_a_name_that_only_begins_like_a_prefix_keeps_it(name: str) -> None:
    assert not ids.has_system_prefix(name)
    assert ids.strip_system_prefix(name) == name


def test_placeholder_dates_of_birth() -> None:
    assert ids.is_placeholder_date_of_birth(date(1900, 1, 1))
    assert ids.is_placeholder_date_of_birth(date(1970, 1, 1))
    assert not ids.is_placeholder_date_of_birth(date(1970, 1, 2))


@given(year=st.integers(1900, 2026), serial=st.integers(0, 9_999_999))
def test_every_pnc_with_its_check_letter_round_trips(year: int, serial: int) -> None:
    letter = ids.check_letter(int(f"{year % 100:02d}{serial:07d}"))
    canonical = f"{year:04d}/{serial:07d}{letter}"
    assert ids.canonical_pnc(canonical, TODAY) == canonical
    wrong = ids.CHECK_TABLE[(ids.CHECK_TABLE.index(letter) + 1) % 23]
    with pytest.raises(ids.InvalidIdentifier):
        ids.canonical_pnc(canonical[:-1] + wrong, TODAY)


@given(yy=st.integers(0, 99), serial=st.integers(1, 999_999))
def test_every_standard_cro_round_trips_and_pads(yy: int, serial: int) -> None:
    letter = ids.check_letter(int(f"{yy:02d}{serial:06d}"))
    assert ids.canonical_cro(f"{serial}/{yy:02d}{letter}") == f"{serial:06d}/{yy:02d}{letter}"


OTHER_SCRIPT_DIGITS = [
    ("pnc", "٧٩/١٦٣٠٠١B"),  # Arabic-Indic digits, check letter right for 79/163001
    ("cro", "SF٨٣/50058Z"),
    ("crn", "A١٢٣٤٥٦"),
    ("noms", "A١٢٣٤BC"),
    ("police_ref", "LAN-١"),
]


@pytest.mark.parametrize(("kind", "raw"), OTHER_SCRIPT_DIGITS)
def test_digits_of_other_scripts_are_not_digits_of_an_identifier(kind: str, raw: str) -> None:
    parse = {
        "pnc": lambda text: ids.canonical_pnc(text, TODAY),
        "cro": ids.canonical_cro,
        "crn": ids.canonical_crn,
        "noms": ids.canonical_noms,
        "police_ref": ids.canonical_police_ref,
    }[kind]
    with pytest.raises(ids.InvalidIdentifier):
        parse(raw)


# Letters of other alphabets that `str.upper` turns into ASCII capitals.
LETTERS_UPPER_CASED_TO_ASCII = [
    ("crn", "\u0131123456"),  # dotless i: would read as I123456
    ("crn", "\u017f123456"),  # long s: would read as S123456
    ("cro", "\u017fF83/50058Z"),  # would read as the valid SF83/50058Z
    ("cro", "\u017ff83/50058z"),  # any case
]


@pytest.mark.parametrize(("kind", "raw"), LETTERS_UPPER_CASED_TO_ASCII)
def test_letters_of_other_alphabets_never_become_an_identifiers_capitals(
    kind: str, raw: str
) -> None:
    parse = {"crn": ids.canonical_crn, "cro": ids.canonical_cro}[kind]
    with pytest.raises(ids.InvalidIdentifier):
        parse(raw)


def test_ascii_letters_are_still_upper_cased() -> None:
    assert ids.canonical_crn(" x123456 ") == "X123456"
    assert ids.canonical_cro("sf83/50058z") == ids.canonical_cro("SF83/50058Z")


CANONICAL_PNC = re.compile(r"[0-9]{4}/[0-9]{7}[A-Z]")
CANONICAL_CRO = re.compile(r"[0-9]{6}/[0-9]{2}[A-Z]|SF[0-9]{2}/[0-9]{1,6}[A-Z]")
IDENTIFIER_CHARACTERS = st.sampled_from("0123456789/SFZBAH ١٢٣٨\n\t٠𝟗²")


@given(raw=st.text(IDENTIFIER_CHARACTERS, max_size=16))
def test_whatever_is_accepted_comes_out_in_the_ascii_canonical_form(raw: str) -> None:
    for parse, canonical in (
        (lambda text: ids.canonical_pnc(text, TODAY), CANONICAL_PNC),
        (ids.canonical_cro, CANONICAL_CRO),
    ):
        try:
            result = parse(raw)
        except ids.InvalidIdentifier:
            continue
        assert canonical.fullmatch(result), ascii(result)
