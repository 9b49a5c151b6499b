"""The site configuration model, validated on load (from TOML files under sites/)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import NotFound, ValidationFailed
from .text import name_problem, normalised
from .vocabulary import STATIONS

SITE_NAME_MAX = 120

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Station(_Frozen):
    desks: tuple[str, ...] = Field(min_length=1)

    @field_validator("desks")
    @classmethod
    def _desk_ids(cls, desks: tuple[str, ...]) -> tuple[str, ...]:
        for desk in desks:
            if not desk or len(desk) > 20 or not desk.replace("-", "").isalnum():
                raise ValueError(f"desk id {desk!r} must be 1-20 letters or digits")
        if len(set(desks)) != len(desks):
            raise ValueError("desk ids must be unique")
        return desks


class Lot(_Frozen):
    """A lot the site knows (its barcode is scanned at the injection desk). With `vials`, the
    site file also delivers it: loading the file records that delivery once (app/flow/stock.py)."""

    lot: str = Field(min_length=1, max_length=40)
    expires_on: date
    barcode: str | None = None
    vials: int | None = Field(None, ge=1, le=100_000)
    doses_per_vial: int = Field(1, ge=1, le=20)


class Product(_Frozen):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str
    name_zh: str
    manufacturer: str
    specification: str
    route: str = "IM"
    # How long an opened multi-dose vial may be used (开瓶后限时使用): its doses left are wasted then.
    open_vial_minutes: int = Field(360, ge=1, le=24 * 60)
    lots: tuple[Lot, ...] = Field(min_length=1)

    def find_lot(self, lot: str) -> Lot | None:
        return next((item for item in self.lots if item.lot == lot), None)


class Observation(_Frozen):
    minutes: int = Field(30, ge=1, le=240)
    extended_minutes: int = Field(60, ge=1, le=480)
    seats: int = Field(ge=1, le=5000)

    @model_validator(mode="after")
    def _extended_not_shorter(self) -> Observation:
        if self.extended_minutes < self.minutes:
            raise ValueError("extended_minutes must be at least minutes")
        return self


class Hours(_Frozen):
    """Opening hours (site time): the dashboard projects the day's doses to closing time."""

    opens: time = time(8, 0)
    closes: time = time(17, 0)


class Said(_Frozen):
    """A text the site gives in both languages (the phone's language picks one)."""

    zh: str = Field(min_length=1, max_length=400)
    en: str = Field(min_length=1, max_length=400)


class Instructions(_Frozen):
    """What the person's phone tells them to do at each step (app/domain/phone_ticket.py)."""

    waiting: Said = Said(zh="您可以在室外、车内等候，无需聚集。叫到您的号码时，请到所示窗口。",
                         en="You may wait outside or in your car: no need to gather. Come to the desk shown "
                            "when your number is called.")
    called: Said = Said(zh="请带好本票据和身份证件，立即前往所示窗口。",
                        en="Please go to the desk shown now, with this slip and your ID.")
    at_desk: Said = Said(zh="请听从工作人员指引。", en="Please follow the staff's instructions.")
    observing: Said = Said(zh="请在留观区就座，留观时间结束前不要离开。",
                           en="Please stay seated in the observation area until your time is up.")
    may_leave: Said = Said(zh="留观结束。请持留观条到出口离场。",
                           en="Your observation is over. Show your observation slip at the exit.")
    done: Said = Said(zh="接种完成，您可以离开了。如有不适，请及时就医。",
                      en="You are done and may leave. If you feel unwell later, see a doctor.")
    see_staff: Said = Said(zh="请联系现场工作人员。", en="Please see a member of staff.")
    emergency: Said = Said(zh="如感到不适，请立即举手或告知留观区工作人员。",
                           en="If you feel unwell, raise your hand or tell the staff at the observation desk.")


class TicketPage(_Frozen):
    """The person's live ticket on their own phone (/t/<code>): how long its code stays valid
    after the site's day ends, and the site's instructions for each step."""

    grace_minutes: int = Field(120, ge=0, le=24 * 60)
    instructions: Instructions = Instructions()


class Appointments(_Frozen):
    """Bookings (app/domain/appointments.py): how long a slot is, and how long after its end a
    booking nobody came for counts as a no-show."""

    slot_minutes: int = Field(30, ge=5, le=240)
    no_show_grace_minutes: int = Field(60, ge=0, le=24 * 60)


class Queue(_Frozen):
    max_recalls: int = Field(2, ge=0, le=10)
    max_requeues: int = Field(1, ge=0, le=10)


class Site(_Frozen):
    id: str
    name: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    timezone: str

    @field_validator("name", "name_zh", mode="after")
    @classmethod
    def _readable_name(cls, value: str) -> str:
        value = normalised(value)
        if problem := name_problem(value, max_length=SITE_NAME_MAX):
            raise ValueError(problem)
        return value
    daily_target: int = Field(ge=0)
    ticket_prefix: str = Field("A", pattern=r"^[A-Z]$")
    # The pages' language until a device chooses its own (zh_Hans or en).
    language: str = Field("zh_Hans", pattern=r"^(zh_Hans|en)$")
    observation: Observation
    queue: Queue = Queue()
    hours: Hours = Hours()
    ticket_page: TicketPage = TicketPage()
    appointments: Appointments = Appointments()
    stations: dict[str, Station]
    products: tuple[Product, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _site_id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (at most 40)")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder of zones, not a zone
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("stations")
    @classmethod
    def _all_stations(cls, stations: dict[str, Station]) -> dict[str, Station]:
        missing = [name for name in STATIONS if name not in stations]
        unknown = [name for name in stations if name not in STATIONS]
        if missing:
            raise ValueError(f"missing stations: {', '.join(missing)}")
        if unknown:
            raise ValueError(f"unknown stations: {', '.join(unknown)} (allowed: {', '.join(STATIONS)})")
        return stations

    @model_validator(mode="after")
    def _unique_products(self) -> Site:
        """Codes, and names in each language: a vaccinator picks a product by its name."""
        for key, what in (("code", "product codes"), ("name", "product names"), ("name_zh", "product names (name_zh)")):
            values = [getattr(product, key) for product in self.products]
            if len(set(values)) != len(values):
                raise ValueError(f"{what} must be unique")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def product(self, code: str) -> Product | None:
        return next((product for product in self.products if product.code == code), None)

    def require_station(self, station: str) -> Station:
        if station not in self.stations:
            raise NotFound(f"Unknown station {station!r}.", code="unknown_station")
        return self.stations[station]

    def require_desk(self, station: str, desk: str | None) -> str:
        desks = self.require_station(station).desks
        if desk not in desks:
            raise ValidationFailed(
                f"Desk {desk!r} is not a desk of station {station}.",
                fields={"desk": f"must be one of {', '.join(desks)}"},
            )
        return desk


class SiteConfigError(ValueError):
    """A site file is invalid; the message names the file and every bad key."""


def parse_site(data: Mapping[str, object], *, source: str = "<site>") -> Site:
    try:
        return Site.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problems.append(f"{source}: {key}: {error['msg']}")
        raise SiteConfigError("\n".join(problems)) from None
