"""Identity documents: the 18-digit resident ID (GB 11643) and passports; masking for tablets."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from .errors import ValidationFailed

# ISO 7064 MOD 11-2, as used by GB 11643-1999.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# First two digits: province-level division codes.
_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
}
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
DOCUMENT_TYPES = ("resident_id", "passport")
# A phone number as people write it: an optional +, digits, spaces and dashes.
PHONE_PATTERN = r"^\+?[0-9][0-9 \-]{4,28}$"


@dataclass(frozen=True)
class Document:
    type: str
    number: str
    birth_date: date | None


def resident_id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _normalise(raw: str) -> str:
    """Full-width digits and letters (from an IME or a card reader) become ASCII; spaces go."""
    return unicodedata.normalize("NFKC", raw).strip().replace(" ", "").upper()


def parse_resident_id(raw: str, *, today: date) -> Document:
    """Validate an 18-digit resident ID: format, region, birth date, checksum."""
    number = _normalise(raw)
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise ValidationFailed(
            "The resident ID number must be 17 digits followed by a digit or X.",
            fields={"document_number": "must be 18 characters: 17 digits and a final digit or X"},
        )
    if number[:2] not in _PROVINCES:
        raise ValidationFailed(
            "The resident ID number starts with an unknown region code.",
            fields={"document_number": f"unknown region code {number[:2]}"},
        )
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationFailed(
            "The birth date inside the resident ID number is not a real date.",
            fields={"document_number": f"invalid birth date {number[6:14]}"},
        ) from None
    if born > today or today.year - born.year > 130:
        raise ValidationFailed(
            "The birth date inside the resident ID number is impossible.",
            fields={"document_number": f"impossible birth date {born.isoformat()}"},
        )
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        raise ValidationFailed(
            "The resident ID number's check digit is wrong: it was probably mistyped.",
            fields={"document_number": "checksum does not match (mistyped digit?)"},
        )
    return Document("resident_id", number, born)


def parse_passport(raw: str, *, birth_date: date | None) -> Document:
    number = _normalise(raw)
    if not _PASSPORT.fullmatch(number):
        raise ValidationFailed(
            "A passport number is 5 to 20 letters and digits.",
            fields={"document_number": "must be 5 to 20 letters and digits"},
        )
    return Document("passport", number, birth_date)


def parse_document(document_type: str, number: str, *, today: date, birth_date: date | None = None) -> Document:
    if document_type == "resident_id":
        return parse_resident_id(number, today=today)
    if document_type == "passport":
        return parse_passport(number, birth_date=birth_date)
    raise ValidationFailed(
        "Unknown document type.", fields={"document_type": f"must be one of {', '.join(DOCUMENT_TYPES)}"}
    )


def age_on(birth_date: date | None, day: date) -> int | None:
    if birth_date is None:
        return None
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def document_key(document_type: str, number: str) -> str:
    """The lookup key used to find a second visit by the same person."""
    return f"{document_type}:{number}"


def mask_name(name: str) -> str:
    """张三丰 -> 张*丰, 张三 -> 张*, Anna Smith -> A********h."""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_tail(value: str | None, keep: int = 4) -> str | None:
    if not value:
        return value
    return "*" * max(len(value) - keep, 0) + value[-keep:]
