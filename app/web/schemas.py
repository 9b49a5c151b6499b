"""Request bodies of the REST API (also the source of their OpenAPI schemas)."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


MAX_SEQ = 2**53  # larger than any sequence number, small enough for every database and JSON


def _no_control_characters(value: Any) -> None:
    if isinstance(value, str):
        if any(ord(char) < 32 and char not in "\t\n\r" for char in value):
            raise ValueError("must not contain control characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_control_characters(key)
            _no_control_characters(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _no_control_characters(item)


class Body(BaseModel):
    # Strict: "2" is not a dose number, and unknown fields are typos, not extensions.
    model_config = ConfigDict(strict=True, extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        _no_control_characters(value)
        return value


class CheckInBody(Body):
    name: str = Field(min_length=1, max_length=100)
    document_type: Literal["resident_id", "passport"]
    document_number: str = Field(min_length=1, max_length=40)
    phone: str | None = Field(None, max_length=30, pattern=r"^\+?[0-9][0-9 \-]{4,28}$")
    dose_number: int = Field(ge=1, le=4)
    health_code: Literal["green", "yellow", "red"]
    priority: bool = False
    birth_date: date | None = Field(None, description="For passports: the birth date (for age checks).")


class DeskBody(Body):
    desk: str = Field(min_length=1, max_length=20)


class EmptyBody(Body):
    pass


class CancelBody(Body):
    reason: str = Field(min_length=1, max_length=200)


class ConsentBody(Body):
    desk: str = Field(min_length=1, max_length=20)
    outcome: Literal["eligible", "deferred", "refused"]
    answers: dict[str, bool]
    allergy_history: bool
    deferral_reason: str | None = None
    signature: str | None = Field(None, max_length=300_000, description="A data URL of the signature image, or 'confirmed'.")


class InjectionBody(Body):
    desk: str = Field(min_length=1, max_length=20)
    product: str = Field(min_length=1, max_length=40)
    lot: str = Field(min_length=1, max_length=40)
    dose_number: int = Field(ge=1, le=4)
    site: Literal["left_deltoid", "right_deltoid"]
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
    outcome: Literal["recovered", "transferred"] | None = None


class AefiOutcomeBody(Body):
    outcome: Literal["recovered", "transferred"]
    notes: str = Field("", max_length=2000)


class CorrectionBody(Body):
    reason: str = Field(min_length=1, max_length=500)
    state: Literal["waiting", "left"]
    station: Literal["consent", "injection"] | None = None
    corrects_seq: int = Field(ge=1, le=MAX_SEQ)



class UndoBody(Body):
    seq: int = Field(ge=1, le=MAX_SEQ, description="The sequence number of the visit's last event, to undo.")

