"""What the visit commands answer (the registry's response models, app/flow/commands.py): a visit
as the caller may see it (app/domain/privacy.py: visit_view) and the event the request recorded.
They are the source of the OpenAPI schemas `Visit` and `VisitEnvelope`."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.visit import State


class Person(BaseModel):
    """Full for supervisors; masked name and the last 4 ID digits for station tablets."""

    model_config = ConfigDict(extra="allow")
    name: str
    document_type: str


class Observation(BaseModel):
    started_at: datetime
    leave_at: datetime
    may_leave: bool
    remaining_seconds: int


class Visit(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    site: str
    day: date
    ticket: str | None
    state: State
    station: str | None
    desk: str | None
    priority: bool
    dose_number: int
    person: Person
    consent: dict[str, Any] | None
    injection: dict[str, Any] | None
    observation: Observation | None
    aefi: list[dict[str, Any]]
    version: int
    health_code: Literal["green", "yellow", "red"] | None = None
    checked_in_at: datetime | None = None
    called_at: datetime | None = None
    released_at: datetime | None = None
    closed_reason: str | None = None
    vaccinated: bool | None = None


class VisitEnvelope(BaseModel):
    visit: Visit
    seq: int | None = Field(None, description="Sequence number of the event this request recorded.")


class TicketPage(BaseModel):
    """The person's live ticket on their phone: the address on the slip's QR code. Shown only in
    the answer that made the code; the server keeps only its hash."""

    url: str = Field(description="The public page, /t/<code> at the server's public address.")
    expires_at: datetime = Field(description="The end of the site's day plus its grace period.")


class CheckInEnvelope(VisitEnvelope):
    ticket_page: TicketPage | None = Field(
        None, description="The phone ticket's address, for the slip; shown once: absent when turned away and in "
                          "a repeat of the request (same Idempotency-Key), after which "
                          "POST /sites/{site}/visits/{visit_id}/ticket-code gives a new one.")
    appointment_code: str | None = Field(
        None, description="The booking this check-in marked arrived: the one whose code was sent, or the person's "
                          "booking today (a check-in by document); absent for a walk-in without one, when turned "
                          "away, and in a repeat of the request.")


class TicketCode(BaseModel):
    ticket_page: TicketPage


class VisitAnswer(BaseModel):
    visit: Visit


class AppointmentPerson(BaseModel):
    """Full for supervisors (and the check-in desk's look-up); masked like a tablet's for stations."""

    model_config = ConfigDict(extra="allow")
    name: str
    document_type: str


class Appointment(BaseModel):
    code: str
    slot_start: str = Field(description="YYYY-MM-DDTHH:MM, the site's local time")
    slot_minutes: int
    status: Literal["booked", "arrived", "no_show", "cancelled"]
    group: str
    dose_number: int
    visit_id: str | None
    person: AppointmentPerson


class AppointmentAnswer(BaseModel):
    appointment: Appointment


class AppointmentList(BaseModel):
    appointments: list[Appointment]
    next: str | None


class RowProblemModel(BaseModel):
    line: int
    reason: str


class Overbooked(BaseModel):
    slot_start: str
    booked: int
    capacity: int


class AppointmentImport(BaseModel):
    imported: int
    invalid: list[RowProblemModel]
    sha256: str
    overbooked: list[Overbooked] = Field(description="a warning: slots now booked beyond the site's slot capacity")


class SlotCount(BaseModel):
    slot_start: str
    booked: int
    arrived: int
    capacity: int


class GroupCount(BaseModel):
    group: str
    booked: int
    arrived: int
    no_show: int


class AppointmentSummary(BaseModel):
    site: str
    date: date
    slot_minutes: int
    no_show_grace_minutes: int
    slot_capacity: int = Field(description="people a slot takes in: the planner's, for every desk and seat of the site")
    slots: list[SlotCount]
    groups: list[GroupCount]
    arrivals: dict[str, int] = Field(description="early, on_time, late (arrived against their slot) and missing "
                                                 "(no-shows)")


# --- vaccine stock (app/flow/stock.py) ----------------------------------------------------------

class OpenVial(BaseModel):
    vial: int  # the lot's n-th vial opened at the site
    desk: str | None
    doses_left: int
    opened_at: datetime
    discard_at: datetime
    minutes_left: int | None = None  # the lots held now (not on a day's sheet)


class LotNow(BaseModel):
    """A lot as the site holds it now (the injection desk's list)."""

    product: str
    lot: str
    expires_on: date
    doses_per_vial: int
    doses: int
    unopened_vials: int
    open_vials: list[OpenVial]


class UsableLot(LotNow):
    usable: bool  # doses left and not expired


class StockLots(BaseModel):
    lots: list[UsableLot]


class StockRecorded(BaseModel):
    """What a stock command recorded: its event in the site's log, and the lot after it."""

    seq: int
    type: str
    at: datetime
    lot: LotNow | None


class StockRow(BaseModel):
    """One lot's line of the day's stock sheet, in doses: given + wasted + left = opening + received - moved_out,
    or `difference` is not 0 (and `balanced` false)."""

    product: str
    lot: str
    expires_on: date
    doses_per_vial: int
    opening: int
    received: int
    moved_in: int
    moved_out: int
    given: int
    wasted: int
    wasted_by_reason: dict[str, int]
    left: int
    unopened_vials: int
    vials_opened: int
    open_vials: list[OpenVial]
    counted: dict[str, int]
    difference: int
    balanced: bool
    explanation: str | None
    explained: bool


class StockSheet(BaseModel):
    site: str
    date: date
    as_of: datetime
    lots: list[StockRow]
    unexplained: list[str]
    closed: dict[str, Any] | None
