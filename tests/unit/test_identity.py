"""Identity documents: resident ID validation (GB 11643), passports, masking, age."""
from __future__ import annotations

from datetime import date

import pytest

from app.domain.errors import ValidationFailed
from app.domain.identity import (
    age_on,
    mask_name,
    mask_tail,
    parse_document,
    parse_passport,
    parse_resident_id,
    resident_id_check_char,
)
from tests.support.factories import gen_resident_id

TODAY = date(2026, 11, 24)


def with_check(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def refused(number: str, *, today: date = TODAY) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        parse_resident_id(number, today=today)
    assert "document_number" in caught.value.fields
    return caught.value


# --- resident ID: valid numbers -----------------------------------------------------------------

def test_valid_resident_id_gives_its_birth_date():
    number = gen_resident_id(birth="19800101")
    document = parse_resident_id(number, today=TODAY)
    assert document.type == "resident_id"
    assert document.number == number
    assert document.birth_date == date(1980, 1, 1)


def test_well_known_valid_number_with_final_x_is_accepted():
    # 11010519491231002X is the textbook example of a resident ID ending in X.
    document = parse_resident_id("11010519491231002X", today=TODAY)
    assert document.number == "11010519491231002X"
    assert document.birth_date == date(1949, 12, 31)


def test_lowercase_final_x_is_accepted_and_normalised_to_uppercase():
    document = parse_resident_id("11010519491231002x", today=TODAY)
    assert document.number == "11010519491231002X"


def test_surrounding_and_inner_spaces_are_ignored():
    number = gen_resident_id(birth="19900515")
    spaced = f"  {number[:6]} {number[6:14]} {number[14:]} "
    assert parse_resident_id(spaced, today=TODAY).number == number


def test_check_char_is_computed_with_iso7064_mod_11_2():
    assert resident_id_check_char("11010519491231002") == "X"
    # Weighted sum of 44052418800101001: known check digit 4.
    assert resident_id_check_char("44052418800101001") == "4"


@pytest.mark.parametrize("region", ["11", "31", "44", "65", "71", "81", "82"])
def test_every_known_region_prefix_is_accepted(region):
    number = with_check(f"{region}010119800101001")
    assert parse_resident_id(number, today=TODAY).number == number


# --- resident ID: refused numbers ---------------------------------------------------------------

def test_wrong_check_digit_is_refused_as_a_checksum_error():
    number = gen_resident_id(birth="19800101")
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    error = refused(wrong)
    assert "checksum" in error.fields["document_number"]


def test_single_mistyped_digit_is_caught_by_the_checksum():
    number = gen_resident_id(birth="19800101")
    # Change one digit of the sequence part (not the birth date or region).
    digit = number[15]
    mistyped = number[:15] + str((int(digit) + 1) % 10) + number[16:]
    assert "checksum" in refused(mistyped).fields["document_number"]


@pytest.mark.parametrize("length", [0, 15, 17, 19])
def test_wrong_length_is_refused(length):
    number = (gen_resident_id() * 2)[:length]
    error = refused(number)
    assert "18 characters" in error.fields["document_number"]


@pytest.mark.parametrize(
    "number",
    ["11010519800101001A", "1101051980O101001X", "X10105198001010011", "11010519800101X011", "abcdefghijklmnopqr"],
)
def test_letters_other_than_a_final_x_are_refused(number):
    assert "18 characters" in refused(number).fields["document_number"]


@pytest.mark.parametrize("region", ["00", "10", "19", "24", "30", "47", "66", "70", "80", "84", "99"])
def test_unknown_region_code_is_refused(region):
    number = with_check(f"{region}010519800101001")
    error = refused(number)
    assert f"unknown region code {region}" == error.fields["document_number"]


@pytest.mark.parametrize("birth", ["19900230", "19900431", "20230229", "19901301", "19900001", "19900100"])
def test_impossible_birth_date_is_refused(birth):
    number = with_check(f"110105{birth}001")
    error = refused(number)
    assert f"invalid birth date {birth}" == error.fields["document_number"]


def test_leap_day_birth_date_is_accepted():
    number = with_check("11010520000229001")
    assert parse_resident_id(number, today=TODAY).birth_date == date(2000, 2, 29)


def test_birth_date_after_today_is_refused():
    number = with_check("11010520261125001")
    error = refused(number, today=date(2026, 11, 24))
    assert error.fields["document_number"] == "impossible birth date 2026-11-25"


def test_birth_date_today_is_accepted():
    number = with_check("11010520261124001")
    assert parse_resident_id(number, today=date(2026, 11, 24)).birth_date == date(2026, 11, 24)


def test_birth_date_more_than_130_years_ago_is_refused():
    number = with_check("11010518800101001")
    assert "impossible birth date" in refused(number, today=date(2026, 11, 24)).fields["document_number"]


def test_resident_id_with_non_ascii_digits_is_refused_or_normalised():
    """Full-width digits (typed with a Chinese IME in full-width mode) are `\\d` to Python's re.

    Accepting them verbatim stores a second spelling of the same number, so the
    same-person-same-day lookup (document_key) no longer finds the first visit.
    """
    ascii_number = with_check("11010519800101001")
    fullwidth_middle = "".join(chr(ord(c) + 0xFEE0) for c in ascii_number[2:17])
    typed = ascii_number[:2] + fullwidth_middle + ascii_number[17]
    try:
        document = parse_resident_id(typed, today=TODAY)
    except ValidationFailed as error:
        assert "document_number" in error.fields
    else:
        assert document.number == ascii_number


# --- passports and document types ---------------------------------------------------------------

@pytest.mark.parametrize("number", ["E1234", "E12345678", "g12345678", "AB12CD34EF56GH78IJ90", "12345"])
def test_passport_of_5_to_20_letters_and_digits_is_accepted_uppercased(number):
    document = parse_passport(number, birth_date=date(1970, 5, 6))
    assert document.type == "passport"
    assert document.number == number.upper()
    assert document.birth_date == date(1970, 5, 6)


@pytest.mark.parametrize("number", ["", "E123", "A" * 21, "E1234-567", "E1234_567", "护照12345", "E12345678!"])
def test_passport_with_wrong_length_or_symbols_is_refused(number):
    with pytest.raises(ValidationFailed) as caught:
        parse_passport(number, birth_date=None)
    assert caught.value.fields == {"document_number": "must be 5 to 20 letters and digits"}


def test_passport_typed_in_full_width_is_stored_in_ascii():
    assert parse_passport("Ｅ１２３４５６７８", birth_date=None).number == "E12345678"


def test_passport_spaces_are_ignored():
    assert parse_passport(" E 1234 5678 ", birth_date=None).number == "E12345678"


def test_parse_document_dispatches_on_the_document_type():
    number = gen_resident_id(birth="19850607")
    assert parse_document("resident_id", number, today=TODAY).birth_date == date(1985, 6, 7)
    passport = parse_document("passport", "E12345678", today=TODAY, birth_date=date(1960, 1, 1))
    assert passport.birth_date == date(1960, 1, 1)


def test_parse_document_ignores_a_given_birth_date_for_resident_ids():
    number = gen_resident_id(birth="19850607")
    document = parse_document("resident_id", number, today=TODAY, birth_date=date(1950, 1, 1))
    assert document.birth_date == date(1985, 6, 7)


def test_unknown_document_type_is_refused_naming_the_field():
    with pytest.raises(ValidationFailed) as caught:
        parse_document("driving_licence", "123456", today=TODAY)
    assert "document_type" in caught.value.fields


# --- masking ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张*丰"),
        ("张三", "张*"),
        ("张", "*"),
        ("", "*"),
        ("欧阳小明", "欧**明"),
        ("Anna Smith", "A********h"),
        ("Li", "L*"),
        ("  张三丰  ", "张*丰"),
    ],
)
def test_mask_name_keeps_only_first_and_last_character(name, masked):
    assert mask_name(name) == masked


def test_mask_name_never_returns_the_name_itself_for_short_names():
    for name in ("张", "张三", "Al", "Bo"):
        assert mask_name(name) != name


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13800138000", "*******8000"), ("1234", "1234"), ("12", "12"), (None, None), ("", "")],
)
def test_mask_tail_keeps_the_last_four_characters(value, masked):
    assert mask_tail(value) == masked


# --- age ----------------------------------------------------------------------------------------

def test_age_increases_on_the_birthday_itself():
    born = date(1966, 11, 24)
    assert age_on(born, date(2026, 11, 23)) == 59
    assert age_on(born, date(2026, 11, 24)) == 60
    assert age_on(born, date(2026, 11, 25)) == 60


def test_age_of_someone_born_on_leap_day_changes_on_march_first_in_common_years():
    born = date(1964, 2, 29)
    assert age_on(born, date(2025, 2, 28)) == 60
    assert age_on(born, date(2025, 3, 1)) == 61
    assert age_on(born, date(2028, 2, 29)) == 64


def test_age_is_unknown_without_a_birth_date():
    assert age_on(None, date(2026, 11, 24)) is None
