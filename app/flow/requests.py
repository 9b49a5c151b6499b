"""The request of each command (app/flow/commands.py): validated once, at whichever door it came in
(REST, the command line, the typed client); also the source of their OpenAPI schemas."""
from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from app.domain.identity import PHONE_PATTERN
from app.domain.stock import CountMoment, WasteReason
from app.domain.text import NAME_MAX, name_problem, normalised, text_problem
from app.domain.visit import State
from app.domain.vocabulary import AefiOutcome, ConsentOutcome

MAX_SEQ = 2**53  # larger than any sequence number, small enough for every database and JSON


# Free text of these fields may span lines; every other text is one line.
MULTILINE_FIELDS = frozenset({"actions", "notes"})


def _cleaned(value: Any, *, multiline: bool) -> Any:
    """Text in its stored form (NFC, trimmed), or ValueError naming the character refused
    (app/domain/text.py); lists and objects are cleaned item by item; codes (enums) are as they are."""
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        cleaned = normalised(value)
        if value and not cleaned:
            raise ValueError("must not be blank")
        problem = text_problem(cleaned, multiline=multiline)
        if problem:
            raise ValueError(problem)
        return cleaned
    if isinstance(value, dict):
        return {_cleaned(key, multiline=False): _cleaned(item, multiline=multiline) for key, item in value.items()}
    if isinstance(value, list):
        return [_cleaned(item, multiline=multiline) for item in value]
    return value


class Body(BaseModel):
    # Strict: "2" is not a dose number, and unknown fields are typos, not extensions.
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value: Any, info: ValidationInfo) -> Any:
        return _cleaned(value, multiline=info.field_name in MULTILINE_FIELDS)


class CheckInBody(Body):
    """A walk-in gives the person (name, document, dose); a booked person gives the booking's
    code instead, and the booking fills them in (app/flow/visits.py: check_in)."""

    name: str | None = Field(None, min_length=1, max_length=100,
                             description=f"1-{NAME_MAX} characters after trimming, any script")
    document_type: Literal["resident_id", "passport"] | None = None
    document_number: str | None = Field(None, min_length=1, max_length=40)
    phone: str | None = Field(None, max_length=30, pattern=PHONE_PATTERN)
    dose_number: int | None = Field(None, ge=1, le=4)
    health_code: Literal["green", "yellow", "red"] | None = Field(
        None, description="Required (a missing one is named with the other missing fields).")
    priority: bool = False
    birth_date: date | None = Field(None, description="For passports: the birth date (for age checks).")
    appointment_code: str | None = Field(
        None, min_length=4, max_length=20,
        description="A booking's code: the booking gives the name, document, phone and dose (send none of them).")

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = normalised(value)
        problem = name_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class DeskBody(Body):
    desk: str = Field(min_length=1, max_length=20)


class EmptyBody(Body):
    pass


class AppointmentLookupBody(Body):
    """A booking by its code (typed, or scanned from the confirmation's QR), or today's booking of
    a person by their document."""

    code: str | None = Field(None, min_length=4, max_length=300, description="the code, or a scanned address ending with it")
    document_type: Literal["resident_id", "passport"] | None = None
    document_number: str | None = Field(None, min_length=1, max_length=40)


class RebookBody(Body):
    slot_start: str = Field(min_length=16, max_length=16, description="YYYY-MM-DDTHH:MM, the site's local time")


class ScannedSlipBody(Body):
    """What a station's scanner read from a slip's QR code, as it read it."""

    scanned: str = Field(min_length=1, max_length=300)


class CancelBody(Body):
    reason: str = Field(min_length=1, max_length=200)


class ConsentBody(Body):
    desk: str = Field(min_length=1, max_length=20)
    outcome: Literal[tuple(ConsentOutcome)]  # type: ignore[valid-type]
    answers: dict[str, bool]
    allergy_history: bool
    deferral_reason: str | None = None
    signature: str | None = Field(None, max_length=300_000, description="A data URL of the signature image, or 'confirmed'.")


class InjectionBody(Body):
    desk: str = Field(min_length=1, max_length=20)
    product: str = Field(min_length=1, max_length=40)
    lot: str = Field(min_length=1, max_length=40)
    dose_number: int = Field(ge=1, le=4)
    # "site" on the wire (where on the body), injection_site in Python (not the vaccination site).
    injection_site: Literal["left_deltoid", "right_deltoid"] = Field(alias="site")
    route: Literal["IM"]
    checklist: list[str] = Field(max_length=20)


class ReleaseBody(Body):
    override_reason: str | None = Field(None, min_length=1, max_length=500)


class AefiBody(Body):
    symptoms: list[str] = Field(min_length=1, max_length=20)
    onset_at: AwareDatetime
    severity: Literal["minor", "severe", "serious"]
    serious_criteria: list[str] = Field(default_factory=list, max_length=5)
    actions: str = Field("", max_length=2000)
    outcome: Literal[tuple(AefiOutcome)] | None = None  # type: ignore[valid-type]


class AefiOutcomeBody(Body):
    outcome: Literal[tuple(AefiOutcome)]  # type: ignore[valid-type]
    notes: str = Field("", max_length=2000)


class CorrectionBody(Body):
    reason: str = Field(min_length=1, max_length=500)
    state: Literal[State.WAITING, State.LEFT]
    station: Literal["consent", "injection"] | None = None
    corrects_seq: int = Field(ge=1, le=MAX_SEQ)



class UndoBody(Body):
    seq: int = Field(ge=1, le=MAX_SEQ, description="The sequence number of the visit's last event, to undo.")



# --- vaccine stock (app/flow/stock.py) ----------------------------------------------------------

LotNumber = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
ProductCode = Annotated[str, Field(min_length=1, max_length=40)]
Vials = Annotated[int, Field(ge=1, le=100_000, description="whole vials, at least 1")]
Doses = Annotated[int, Field(ge=1, le=2_000_000, description="doses, at least 1")]
DosesPerVial = Annotated[int, Field(ge=1, le=20, description="doses in one vial (1: single-dose)")]


class StockReceiptBody(Body):
    """A delivery: `vials` vials of `doses_per_vial` doses of a lot of one of the site's products."""

    product: ProductCode
    lot: LotNumber
    expires_on: date
    doses_per_vial: DosesPerVial
    vials: Vials


class StockMoveBody(Body):
    """Unopened vials of a lot the site holds, to another site. The lot's details may be repeated
    (as in a delivery); they must then be the lot's."""

    lot: LotNumber
    vials: Vials
    to_site: Annotated[str, Field(min_length=1, max_length=40)]
    product: ProductCode | None = None
    expires_on: date | None = None
    doses_per_vial: DosesPerVial | None = None


class StockWasteBody(Body):
    """Doses thrown away, with a reason; `vial` names an open vial (all its doses left)."""

    lot: LotNumber
    doses: Doses
    reason: WasteReason
    vial: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    desk: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    note: Annotated[str, Field(max_length=400)] | None = None


class StockCountBody(Body):
    """A physical count of a lot, in doses (open vials' doses included)."""

    lot: LotNumber
    doses: Annotated[int, Field(ge=0, le=2_000_000, description="doses counted, 0 or more")]
    moment: CountMoment


class VialOpenBody(Body):
    lot: LotNumber
    desk: Annotated[str, Field(min_length=1, max_length=20)]


class StockExplanationBody(Body):
    """Why a lot's count differed from its books on a day."""

    date: date
    lot: LotNumber
    explanation: Annotated[str, Field(min_length=3, max_length=400)]


class StockCloseBody(Body):
    date: date
