"""Test data factories (gen_* in the CTFd habit): valid inputs that tests then bend."""
from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from app.domain.identity import resident_id_check_char
from app.domain.vocabulary import CHECKLIST, SCREENING_QUESTIONS

_serial = itertools.count(1)


def gen_resident_id(birth: str | None = None, region: str = "110105") -> str:
    """A resident ID number with a correct check character, different on every call.

    Without `birth`, the person is born in the 1980s (not a priority by age)."""
    number = next(_serial)
    if birth is None:
        birth = (date(1980, 1, 1) + timedelta(days=number // 1000)).strftime("%Y%m%d")
    first17 = f"{region}{birth}{number % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def gen_checkin(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "王小明",
        "document_type": "resident_id",
        "document_number": gen_resident_id(),
        "phone": "13800138000",
        "dose_number": 1,
        "health_code": "green",
        "priority": False,
    }
    body.update(overrides)
    return body


def gen_answers(**yes: bool) -> dict[str, bool]:
    answers = dict.fromkeys(SCREENING_QUESTIONS, False)
    answers.update(yes)
    return answers


def gen_consent(desk: str = "A", **overrides: Any) -> dict[str, Any]:
    body = {
        "desk": desk,
        "outcome": "eligible",
        "answers": gen_answers(),
        "allergy_history": False,
        "deferral_reason": None,
        "signature": "confirmed",
    }
    body.update(overrides)
    return body


def gen_injection(desk: str = "1", **overrides: Any) -> dict[str, Any]:
    body = {
        "desk": desk,
        "product": "coronavac",
        "lot": "202610A127",
        "dose_number": 1,
        "site": "left_deltoid",
        "route": "IM",
        "checklist": list(CHECKLIST),
    }
    body.update(overrides)
    return body


EXPIRED_LOT = {"product": "coronavac", "lot": "202604A033"}
