"""The unit matcher: our agencies found among a portal's rows by id, then code, then normalised Vietnamese
name; each match says how, and two candidates or none is a finding that names the unit and the rows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.matching import Candidate, Wanted, match_agencies, name_key


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("UBND Phường IV", "Phường 4"),
        ("UBND Phường IV", "P.4"),
        ("UBND Phường IV", "P4"),
        ("UBND Phường 1", "Ủy ban nhân dân phường 01"),
        ("UBND Phường 1", "Uỷ ban nhân dân Phường số 1"),
        ("UBND Xã Bình Minh", "xã Bình Minh"),
        ("UBND Xã Bình Minh", "X. Bình Minh"),
        ("UBND thành phố Tây Ninh", "TP. Tây Ninh"),
        ("UBND thành phố Tây Ninh", "UBND TP Tây Ninh"),
        ("UBND Phường Ninh Sơn", "Phường Ninh Sơn (TP Tây Ninh)"),
        ("UBND Phường 3", "Phường 3, thành phố Tây Ninh"),
        ("UBND Phường Hiệp Ninh", "UBND PHƯỜNG HIỆP NINH"),
        ("UBND Xã Thạnh Tân", "UBND Xã Tha\u0323nh Tân"),  # decomposed (NFD) diacritics
    ],
)
def test_the_same_unit_written_another_way_has_the_same_name(ours: str, theirs: str) -> None:
    assert name_key(ours).same_as(name_key(theirs))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("UBND Phường 1", "UBND Xã 1"),  # the kind says another unit
        ("UBND thành phố Tây Ninh", "Tỉnh Tây Ninh"),
        ("UBND Phường 1", "UBND Phường 11"),
        ("UBND Xã Phan", "UBND Xã Phan Rang"),
        ("UBND Xã Thạnh Tân", "UBND Xã Thanh Tân"),  # diacritics are part of the name
    ],
)
def test_another_unit_is_not_the_same_name(ours: str, theirs: str) -> None:
    assert not name_key(ours).same_as(name_key(theirs))


def test_an_abbreviation_needs_its_dot_so_a_name_is_not_cut() -> None:
    assert name_key("Xã Phan").core == name_key("Phan").core == "phan"  # not "P." + "han"
    assert name_key("Phan").kind is None and name_key("Thạnh Tân").core == "thạnh tân"


WARDS = [Wanted("phuong-1", "UBND Phường 1", "0000451", "000.01.20.H53"),
         Wanted("phuong-4", "UBND Phường IV", "0000454", "000.04.20.H53")]  # fmt: skip


def test_id_first_then_code_then_name_each_match_saying_how() -> None:
    rows = [
        Candidate("0000451", "x", "Tên khác", "row 1"),
        Candidate("9", "000.04.20.H53", "Phường 4", "row 2"),
    ]
    one, four = match_agencies(WARDS, rows)
    assert (one.method, one.candidate) == ("id", rows[0]) and one.name_differs
    assert "but the portal names it 'Tên khác'" in one.describe()
    assert (four.method, four.candidate) == ("code", rows[1]) and four.differs == {"id": ("0000454", "9")}


def test_a_numeric_id_matches_without_its_leading_zeros_and_the_difference_is_said() -> None:
    (one,) = match_agencies(WARDS[:1], [Candidate("451", None, "Tên khác", "row 1")])
    assert one.method == "id" and one.differs == {"id": ("0000451", "451")}


def test_a_row_another_units_id_claims_is_not_taken_by_a_name() -> None:
    rows = [Candidate("0000454", None, "UBND Phường 1", "row 1")]  # phuong-4's id, phuong-1's name
    one, four = match_agencies(WARDS, rows)
    assert four.method == "id" and one.problem == "none"


def test_two_rows_for_one_unit_is_ambiguous_naming_both() -> None:
    rows = [Candidate("1", None, "Phường 1", "row 1"), Candidate("2", None, "P.1", "row 7")]
    (one,) = match_agencies(WARDS[:1], rows)
    assert one.problem == "ambiguous" and one.candidate is None and one.method == "name"
    assert "'Phường 1', id 1 (row 1)" in one.describe() and "'P.1', id 2 (row 7)" in one.describe()


def test_one_row_two_of_ours_would_take_is_ambiguous_for_both() -> None:
    wanted = [Wanted("a", "UBND Phường 1"), Wanted("b", "Phường I")]
    matches = match_agencies(wanted, [Candidate("1", None, "P. 1", "row 1")])
    assert [m.problem for m in matches] == ["ambiguous", "ambiguous"]


def test_no_row_is_a_finding_with_the_closest_names() -> None:
    rows = [
        Candidate("1", None, "UBND Phường Ninh Sơn", "row 1"),
        Candidate("2", None, "Sở Tư pháp", "row 2"),
    ]
    (match,) = match_agencies([Wanted("ninh-thanh", "UBND Phường Ninh Thạnh", "7", "c")], rows)
    assert match.problem == "none" and not match.found
    text = match.describe()
    assert text.startswith("ninh-thanh (UBND Phường Ninh Thạnh): no row matches by id 7, code c or name")
    assert "closest names: 'UBND Phường Ninh Sơn'" in text and "Sở Tư pháp" not in text


def roman(number: int) -> str:
    out = ""
    for value, symbols in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, number = divmod(number, value)
        out += symbols * count
    return out


@given(st.integers(min_value=1, max_value=39))
def test_a_ward_number_reads_the_same_in_roman_and_arabic(number: int) -> None:
    assert (
        name_key(f"Phường {roman(number)}")
        == name_key(f"UBND Phường {number:02d}")
        == name_key(f"P.{number}")
    )
