"""Vaccine stock: the lots a site holds, folded from its log, and the rules that change them.

Stock is recorded as events in the site's own log (the `events` table, in the site's sequence),
on the stream STOCK_STREAM instead of a visit: deliveries, moves between sites, counts, vials
opened, waste, explanations of differences and the closing of a day. An injection draws its
dose through its own `injected` event (`data["draw"]`). Everything here is pure: a lot's state
is `apply` of its events, and the day's reconciliation is `StockLedger` over the day's events.

Doses are the unit everywhere. A lot of a multi-dose product is held in vials of
`doses_per_vial`; an opened vial has a discard time (the product's `open_vial_minutes` after
opening), and the doses still in it at that time are wasted (`expired_open_vial`) at that time,
by the fold itself: nobody has to be there to record it, and replaying the log gives it back.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import Conflict, ValidationFailed
from .site import Site
from .visit import EventType

# The `visit_id` of a site's stock events: visit ids are 32 hex digits, so it names no visit.
STOCK_STREAM = "stock"


class StockEvent(StrEnum):
    """What can happen to a site's stock: the `type` of its stock events."""

    RECEIVED = "stock_received"  # a delivery
    MOVED_IN = "stock_moved_in"  # vials moved here from another site
    MOVED_OUT = "stock_moved_out"  # vials moved from here to another site
    COUNTED = "stock_counted"  # a physical count; the count is what the site holds from then on
    VIAL_OPENED = "vial_opened"
    WASTED = "stock_wasted"
    EXPLAINED = "stock_explained"  # why a lot's count differed from the books that day
    DAY_CLOSED = "stock_day_closed"



class WasteReason(StrEnum):
    EXPIRED_OPEN_VIAL = "expired_open_vial"
    BROKEN = "broken"
    CONTAMINATED = "contaminated"
    COLD_CHAIN_BREACH = "cold_chain_breach"


WASTE_REASONS = tuple(WasteReason)


class CountMoment(StrEnum):
    OPENING = "opening"  # before the first dose of the day
    CLOSING = "closing"  # after the last


@dataclass(frozen=True)
class StockDraft:
    """A stock event decided by a rule, before the store gives it a sequence number."""

    type: StockEvent
    data: dict[str, Any]
    desk: str | None = None


@dataclass(frozen=True)
class Vial:
    """An opened vial of a multi-dose lot."""

    number: int  # the lot's n-th vial opened at this site
    desk: str | None
    opened_at: datetime
    discard_at: datetime
    doses_left: int

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "desk": self.desk, "opened_at": self.opened_at.isoformat(),
                "discard_at": self.discard_at.isoformat(), "doses_left": self.doses_left}

    def view(self, now: datetime | None = None) -> dict[str, Any]:
        """As the API shows it (on a day's sheet; with `now`, the lots held now: its minutes left)."""
        shown: dict[str, Any] = {"vial": self.number, "desk": self.desk, "doses_left": self.doses_left,
                                 "opened_at": self.opened_at.isoformat(), "discard_at": self.discard_at.isoformat()}
        if now is not None:
            shown["minutes_left"] = _minutes_until(self.discard_at, now)
        return shown

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Vial:
        return cls(int(data["number"]), data.get("desk"), datetime.fromisoformat(data["opened_at"]),
                   datetime.fromisoformat(data["discard_at"]), int(data["doses_left"]))


@dataclass(frozen=True)
class LotStock:
    """One lot as the site holds it now: doses held (in unopened vials and open ones)."""

    product: str
    lot: str
    expires_on: date
    doses_per_vial: int
    doses: int = 0  # held: unopened vials' doses + the doses left in open vials
    vials_opened: int = 0
    open_vials: tuple[Vial, ...] = ()
    last_seq: int = 0

    @property
    def in_open_vials(self) -> int:
        return sum(vial.doses_left for vial in self.open_vials)

    @property
    def unopened_doses(self) -> int:
        return self.doses - self.in_open_vials

    @property
    def unopened_vials(self) -> int:
        return self.unopened_doses // self.doses_per_vial

    def vial_at(self, desk: str | None) -> Vial | None:
        """The desk's open vial of this lot (the one opened last, if it opened several)."""
        return next((vial for vial in reversed(self.open_vials) if vial.desk == desk), None)

    def to_json(self) -> dict[str, Any]:
        return {"product": self.product, "lot": self.lot, "expires_on": self.expires_on.isoformat(),
                "doses_per_vial": self.doses_per_vial, "doses": self.doses, "vials_opened": self.vials_opened,
                "open_vials": [vial.to_json() for vial in self.open_vials], "last_seq": self.last_seq}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LotStock:
        return cls(data["product"], data["lot"], date.fromisoformat(data["expires_on"]), int(data["doses_per_vial"]),
                   int(data["doses"]), int(data["vials_opened"]),
                   tuple(Vial.from_json(vial) for vial in data["open_vials"]), int(data.get("last_seq", 0)))


# --- what happens to a lot: the fold ------------------------------------------------------------

@dataclass
class LotDay:
    """A lot's movements over one day, in doses, as the reconciliation sheet shows them."""

    opening: int = 0
    received: int = 0  # deliveries and moves in
    moved_in: int = 0  # of which from other sites
    moved_out: int = 0
    given: int = 0
    wasted: dict[str, int] = field(default_factory=dict)  # reason -> doses
    adjusted: int = 0  # counts minus the books: the day's difference
    counted: dict[str, int] = field(default_factory=dict)  # moment -> doses counted (the last count)
    explanation: str | None = None
    vials_opened: int = 0

    @property
    def wasted_total(self) -> int:
        return sum(self.wasted.values())


def expire(lot: LotStock, at: datetime, day: LotDay | None = None, window: tuple[datetime, datetime] | None = None
           ) -> LotStock:
    """The lot at `at`: open vials past their discard time are gone, their doses wasted then
    (counted in `day` when their discard time falls in its `window`)."""
    expired = [vial for vial in lot.open_vials if vial.discard_at <= at]
    if not expired:
        return lot
    for vial in expired:
        if day is not None and vial.doses_left and (window is None or window[0] <= vial.discard_at < window[1]):
            reason = WasteReason.EXPIRED_OPEN_VIAL.value
            day.wasted[reason] = day.wasted.get(reason, 0) + vial.doses_left
    return replace(lot, doses=lot.doses - sum(vial.doses_left for vial in expired),
                   open_vials=tuple(vial for vial in lot.open_vials if vial.discard_at > at))


def _without(lot: LotStock, vial: Vial) -> tuple[Vial, ...]:
    return tuple(item for item in lot.open_vials if item.number != vial.number)


def _drawn(lot: LotStock, draw: Mapping[str, Any], desk: str | None, at: datetime) -> LotStock:
    """One dose out of the lot, from the vial the injection named (opening it if it says so)."""
    number = draw.get("vial")
    vials, opened = lot.open_vials, lot.vials_opened
    if draw.get("opened") and number is not None:
        opened = max(opened, int(number))
        vials = vials + (Vial(int(number), desk, at, datetime.fromisoformat(draw["discard_at"]), lot.doses_per_vial),)
    if number is not None:
        vials = tuple(replace(vial, doses_left=vial.doses_left - 1) if vial.number == number else vial
                      for vial in vials)
        vials = tuple(vial for vial in vials if vial.doses_left > 0)
    return replace(lot, doses=lot.doses - 1, open_vials=vials, vials_opened=opened)


def apply_stock(lot: LotStock | None, type_: str, data: Mapping[str, Any], *, at: datetime, seq: int,
                desk: str | None = None, day: LotDay | None = None) -> LotStock | None:
    """Fold one event (a stock event, or an injection's draw) into its lot. Pure. `day`, when
    given, collects the movement for the day's sheet."""
    if type_ in (StockEvent.RECEIVED, StockEvent.MOVED_IN):
        if lot is None:
            lot = LotStock(data["product"], data["lot"], date.fromisoformat(data["expires_on"]),
                           int(data["doses_per_vial"]))
        doses = int(data["doses"])
        if day is not None:
            day.received += doses
            if type_ == StockEvent.MOVED_IN:
                day.moved_in += doses
        return replace(lot, doses=lot.doses + doses, last_seq=seq)
    if lot is None:
        return None  # an injection from a lot recorded before stock was kept
    if type_ == StockEvent.MOVED_OUT:
        if day is not None:
            day.moved_out += int(data["doses"])
        return replace(lot, doses=lot.doses - int(data["doses"]), last_seq=seq)
    if type_ == StockEvent.COUNTED:
        counted = int(data["doses"])
        if day is not None:
            day.adjusted += counted - lot.doses
            day.counted[data["moment"]] = counted
        return replace(lot, doses=counted, last_seq=seq)
    if type_ == StockEvent.VIAL_OPENED:
        vial = Vial(int(data["vial"]), desk, at, datetime.fromisoformat(data["discard_at"]), lot.doses_per_vial)
        if day is not None:
            day.vials_opened += 1
        return replace(lot, vials_opened=max(lot.vials_opened, vial.number), open_vials=lot.open_vials + (vial,),
                       last_seq=seq)
    if type_ == StockEvent.WASTED:
        doses = int(data["doses"])
        if day is not None:
            day.wasted[data["reason"]] = day.wasted.get(data["reason"], 0) + doses
        vials = lot.open_vials
        if data.get("vial") is not None:
            vials = tuple(vial for vial in vials if vial.number != int(data["vial"]))
        return replace(lot, doses=lot.doses - doses, open_vials=vials, last_seq=seq)
    if type_ == StockEvent.EXPLAINED:
        return replace(lot, last_seq=seq)
    if type_ == EventType.INJECTED:
        if day is not None:
            day.given += 1
            if data.get("draw", {}).get("opened"):
                day.vials_opened += 1
        return replace(_drawn(lot, data.get("draw") or {}, desk, at), last_seq=seq)
    return replace(lot, last_seq=seq)


def lot_of(type_: str, data: Mapping[str, Any]) -> str | None:
    """The lot an event changes (None: it changes none, like the closing of a day)."""
    if type_ == EventType.INJECTED:
        injection = data.get("injection")
        return str(injection["lot"]) if injection else None
    lot = data.get("lot")
    return str(lot) if lot is not None else None


# --- the rules: what may be recorded ------------------------------------------------------------

def _doses_for(vials: int, doses_per_vial: int) -> int:
    return vials * doses_per_vial


def _lot_data(lot: LotStock, vials: int) -> dict[str, Any]:
    return {"product": lot.product, "lot": lot.lot, "expires_on": lot.expires_on.isoformat(),
            "doses_per_vial": lot.doses_per_vial, "vials": vials, "doses": _doses_for(vials, lot.doses_per_vial)}


def _same_lot(held: LotStock | None, *, product: str, lot: str, expires_on: date, doses_per_vial: int) -> None:
    """A lot number names one lot: a second delivery of it must say the same of it."""
    if held is None:
        return
    fields: dict[str, str] = {}
    if held.product != product:
        fields["product"] = f"lot {lot} is a lot of {held.product} at this site"
    if held.expires_on != expires_on:
        fields["expires_on"] = f"lot {lot} expires on {held.expires_on.isoformat()} at this site"
    if held.doses_per_vial != doses_per_vial:
        fields["doses_per_vial"] = f"lot {lot} has {held.doses_per_vial} doses per vial at this site"
    if fields:
        raise ValidationFailed(f"Lot {lot} is already held here with other details.", code="lot_mismatch",
                               fields=fields)


def decide_receipt(site: Site, held: LotStock | None, *, product: str, lot: str, expires_on: date,
                   doses_per_vial: int, vials: int, today: date, source: str = "delivery") -> StockDraft:
    """A delivery of `vials` vials of a lot of one of the site's products, not expired."""
    fields: dict[str, str] = {}
    known = site.product(product)
    if known is None:
        fields["product"] = f"unknown product {product!r}: must be one of {', '.join(p.code for p in site.products)}"
    if expires_on < today:
        fields["expires_on"] = f"lot {lot} expired on {expires_on.isoformat()}: an expired lot cannot be received"
    if fields:
        raise ValidationFailed("This delivery cannot be received.", fields=fields)
    _same_lot(held, product=product, lot=lot, expires_on=expires_on, doses_per_vial=doses_per_vial)
    data = {"product": product, "lot": lot, "expires_on": expires_on.isoformat(), "doses_per_vial": doses_per_vial,
            "vials": vials, "doses": _doses_for(vials, doses_per_vial), "source": source}
    return StockDraft(StockEvent.RECEIVED, data)


def held_lot(lots: Mapping[str, LotStock], lot: str) -> LotStock:
    """A lot the site holds (it has received it), or a 422 naming the lot."""
    found = lots.get(lot)
    if found is None:
        raise ValidationFailed(f"This site holds no lot {lot}.", code="lot_not_held",
                               fields={"lot": f"this site holds no lot {lot}"})
    return found


def _enough_vials(lot: LotStock, vials: int, what: str) -> None:
    if vials > lot.unopened_vials:
        raise Conflict(f"Lot {lot.lot} has {lot.unopened_vials} unopened vials here: cannot {what} {vials}.",
                       code="not_enough_stock", fields={"vials": f"at most {lot.unopened_vials}", "lot": lot.lot})


def check_lot_named(lot: LotStock, *, product: str | None, expires_on: date | None, doses_per_vial: int | None
                    ) -> None:
    """What a request says of a lot it names (a move may repeat the delivery's details) must be so."""
    _same_lot(lot, product=product or lot.product, lot=lot.lot, expires_on=expires_on or lot.expires_on,
              doses_per_vial=doses_per_vial or lot.doses_per_vial)


def decide_move(lot: LotStock, *, vials: int, from_site: str, to_site: str) -> tuple[StockDraft, StockDraft]:
    """Unopened vials from one site to another: out of one log, into the other."""
    if to_site == from_site:
        raise ValidationFailed("A move goes to another site.", fields={"to_site": "must be another site"})
    _enough_vials(lot, vials, "move")
    data = _lot_data(lot, vials)
    return (StockDraft(StockEvent.MOVED_OUT, {**data, "to_site": to_site}),
            StockDraft(StockEvent.MOVED_IN, {**data, "from_site": from_site}))


def decide_move_in(held: LotStock | None, out: StockDraft) -> StockDraft:
    data = out.data
    _same_lot(held, product=data["product"], lot=data["lot"], expires_on=date.fromisoformat(data["expires_on"]),
              doses_per_vial=int(data["doses_per_vial"]))
    return out


def decide_waste(lot: LotStock, *, doses: int, reason: str, vial: int | None, note: str | None, now: datetime,
                 desk: str | None = None) -> StockDraft:
    """Doses thrown away, with a reason: the rest of an open vial (naming it), or unopened doses."""
    if reason not in WASTE_REASONS:
        raise ValidationFailed("Unknown waste reason.", fields={"reason": f"must be one of {', '.join(WASTE_REASONS)}"})
    data: dict[str, Any] = {"lot": lot.lot, "doses": doses, "reason": reason, "note": note}
    if vial is not None:
        opened = next((item for item in lot.open_vials if item.number == vial), None)
        if opened is None:
            raise ValidationFailed(f"Vial {vial} of lot {lot.lot} is not open.", code="vial_not_open",
                                   fields={"vial": f"no open vial {vial} of lot {lot.lot}"})
        if doses != opened.doses_left:
            raise ValidationFailed(f"Vial {vial} of lot {lot.lot} has {opened.doses_left} doses left.",
                                   code="vial_doses_left",
                                   fields={"doses": f"the vial has {opened.doses_left} doses left: waste all of them"})
        return StockDraft(StockEvent.WASTED, {**data, "vial": vial}, desk=desk)
    if doses > lot.unopened_doses:
        raise Conflict(f"Lot {lot.lot} has {lot.unopened_doses} unopened doses here.", code="not_enough_stock",
                       fields={"doses": f"at most {lot.unopened_doses} (name the vial to waste an open one)",
                               "lot": lot.lot})
    return StockDraft(StockEvent.WASTED, data, desk=desk)


def decide_count(lot: LotStock, *, doses: int, moment: str) -> StockDraft:
    if moment not in tuple(CountMoment):
        raise ValidationFailed("Unknown count moment.", fields={"moment": "must be opening or closing"})
    return StockDraft(StockEvent.COUNTED, {"lot": lot.lot, "doses": doses, "moment": moment, "book": lot.doses})


def discard_time(site: Site, product: str, opened_at: datetime) -> datetime:
    found = site.product(product)
    minutes = found.open_vial_minutes if found is not None else 0
    return opened_at + timedelta(minutes=minutes)


def _empty(lot: LotStock) -> Conflict:
    return Conflict(f"Lot {lot.lot} has no doses left at this site.", code="lot_empty",
                    fields={"lot": f"no doses of lot {lot.lot} left"})


def decide_open_vial(site: Site, lot: LotStock, *, desk: str, now: datetime) -> StockDraft:
    """The desk opens a vial of a multi-dose lot: its discard time starts now."""
    if lot.doses_per_vial == 1:
        raise ValidationFailed(f"Lot {lot.lot} comes in single-dose vials: there is no vial to keep open.",
                               fields={"lot": "single-dose vials"})
    current = lot.vial_at(desk)
    if current is not None:
        raise Conflict(f"Vial {current.number} of lot {lot.lot} is open at desk {desk} with {current.doses_left} "
                       "doses: use it, or record its waste, first.", code="vial_already_open",
                       fields={"lot": f"vial {current.number} is open at this desk"})
    if lot.unopened_vials < 1:
        raise _empty(lot)
    number = lot.vials_opened + 1
    return StockDraft(StockEvent.VIAL_OPENED, {"lot": lot.lot, "vial": number,
                                               "discard_at": discard_time(site, lot.product, now).isoformat()},
                      desk=desk)


def draw(site: Site, lot: LotStock, *, desk: str, now: datetime) -> dict[str, Any]:
    """Where an injection's dose comes from (the `draw` of its event): the desk's open vial of
    the lot, or a vial it opens now; a 409 naming the lot when none is left."""
    if lot.doses < 1:
        raise _empty(lot)
    if lot.doses_per_vial == 1:
        return {"lot": lot.lot, "vial": None}
    current = lot.vial_at(desk)
    if current is not None:
        return {"lot": lot.lot, "vial": current.number}
    if lot.unopened_vials < 1:
        raise _empty(lot)  # the doses left are in other desks' open vials
    return {"lot": lot.lot, "vial": lot.vials_opened + 1, "opened": True,
            "discard_at": discard_time(site, lot.product, now).isoformat()}


# --- the day's reconciliation -------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One event, as the ledger folds it."""

    seq: int
    type: str
    at: datetime
    data: Mapping[str, Any]
    desk: str | None = None
    actor: str = ""


class StockLedger:
    """The site's lots folded over its log; `open_day` starts one day's sheet, lot by lot.

    Feed it the events up to the day's end, then the day's explanations and closing, which may
    come later (an explanation the next morning): those only annotate the sheet."""

    def __init__(self, lots: Mapping[str, LotStock] | None = None):
        self.lots: dict[str, LotStock] = dict(lots or {})
        self.days: dict[str, LotDay] = {}
        self.day: date | None = None
        self.window: tuple[datetime, datetime] | None = None
        self.closed: dict[str, Any] | None = None  # the day's closing event, once there is one

    def advance(self, at: datetime) -> None:
        """Every open vial past its discard time by `at` is wasted (at its discard time)."""
        if self.window is not None:
            at = min(at, self.window[1])
        for name, lot in self.lots.items():
            self.lots[name] = expire(lot, at, self.days.get(name), self.window)

    def open_day(self, day: date, start: datetime, end: datetime) -> None:
        self.advance(start)
        self.day, self.window = day, (start, end)
        self.days = {name: LotDay(opening=lot.doses) for name, lot in self.lots.items() if lot.doses}

    def apply(self, entry: Entry) -> None:
        if entry.type in (StockEvent.EXPLAINED, StockEvent.DAY_CLOSED):
            self._annotate(entry)
            return
        if self.window is not None and entry.at >= self.window[1]:
            return  # after the day: not on its sheet
        name = lot_of(entry.type, entry.data)
        if name is None:
            return
        self.advance(entry.at)
        day = self.days.setdefault(name, LotDay()) if self.window is not None else None
        after = apply_stock(self.lots.get(name), entry.type, entry.data, at=entry.at, seq=entry.seq,
                            desk=entry.desk, day=day)
        if after is not None:
            self.lots[name] = after
        elif day is not None and day == LotDay():
            self.days.pop(name, None)  # an injection from a lot nobody recorded as stock

    def _annotate(self, entry: Entry) -> None:
        if self.day is None or entry.data.get("day") != self.day.isoformat():
            return
        if entry.type == StockEvent.DAY_CLOSED:
            self.closed = {**entry.data, "at": entry.at.isoformat(), "actor": entry.actor}
            return
        day = self.days.get(entry.data["lot"])
        if day is not None:
            day.explanation = entry.data["explanation"]  # who: the event's actor, and the audit trail


def sheet_row(lot: LotStock, day: LotDay) -> dict[str, Any]:
    """One lot's line of the day's stock sheet (GET /stock), in doses."""
    wasted = day.wasted_total
    expected = day.opening + day.received - day.moved_out - day.given - wasted
    left = lot.doses
    difference = left - expected
    return {
        "product": lot.product,
        "lot": lot.lot,
        "expires_on": lot.expires_on.isoformat(),
        "doses_per_vial": lot.doses_per_vial,
        "opening": day.opening,
        "received": day.received,
        "moved_in": day.moved_in,
        "moved_out": day.moved_out,
        "given": day.given,
        "wasted": wasted,
        "wasted_by_reason": {reason: day.wasted.get(reason, 0) for reason in WASTE_REASONS},
        "left": left,
        "unopened_vials": lot.unopened_vials,
        "vials_opened": day.vials_opened,
        "open_vials": [vial.view() for vial in lot.open_vials],
        "counted": dict(day.counted),
        "difference": difference,
        "balanced": difference == 0,
        "explanation": day.explanation,
        "explained": difference == 0 or bool(day.explanation),
    }


def day_sheet(ledger: StockLedger, until: datetime) -> list[dict[str, Any]]:
    """The day's rows (as of `until`, at most the day's end), lot by lot in product and lot order:
    every lot held at the day's start or moved during it."""
    ledger.advance(until)
    rows = [sheet_row(ledger.lots[name], day) for name, day in ledger.days.items() if name in ledger.lots]
    return sorted(rows, key=lambda row: (row["product"], row["expires_on"], row["lot"]))


def unexplained(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The lots whose difference nobody has explained."""
    return [row["lot"] for row in rows if not row["explained"]]


def decide_explanation(rows: Iterable[Mapping[str, Any]], *, lot: str, day: date, explanation: str, by: str
                       ) -> StockDraft:
    row = next((row for row in rows if row["lot"] == lot), None)
    if row is None:
        raise ValidationFailed(f"Lot {lot} has no stock sheet line on {day.isoformat()}.", code="lot_not_held",
                               fields={"lot": f"no line for lot {lot} that day"})
    if row["balanced"]:
        raise Conflict(f"Lot {lot} balances on {day.isoformat()}: there is nothing to explain.",
                       code="nothing_to_explain", fields={"lot": "balanced"})
    return StockDraft(StockEvent.EXPLAINED, {"lot": lot, "day": day.isoformat(), "explanation": explanation,
                                             "by": by, "difference": row["difference"]})


def closed_error(day: date, closed: Mapping[str, Any]) -> Conflict:
    return Conflict(f"The stock of {day.isoformat()} was closed at {closed['at']}.", code="stock_day_closed")


def decide_close(rows: Sequence[Mapping[str, Any]], *, day: date, closed: Mapping[str, Any] | None,
                 held: Mapping[str, LotStock]) -> StockDraft:
    """The day's stock is closed when every lot is counted at closing and every difference explained.
    The event keeps the lots as they are now (`held`): a checkpoint, from which a later day's sheet
    is folded instead of from the start of the log."""
    if closed is not None:
        raise closed_error(day, closed)
    fields: dict[str, str] = {}
    for row in rows:
        if row["left"] and "closing" not in row["counted"]:
            fields[f"lot {row['lot']}"] = "not counted at closing"
        elif not row["explained"]:
            fields[f"lot {row['lot']}"] = f"a difference of {row['difference']} doses is not explained"
    if fields:
        raise Conflict(f"The stock of {day.isoformat()} cannot be closed yet.", code="stock_not_reconciled",
                       fields=fields)
    return StockDraft(StockEvent.DAY_CLOSED, {"day": day.isoformat(), "lots": len(rows),
                                              "given": sum(row["given"] for row in rows),
                                              "wasted": sum(row["wasted"] for row in rows),
                                              "held": {name: lot.to_json() for name, lot in sorted(held.items())}})


# --- near closing: who is left to use the open vials ---------------------------------------------

NEAR_CLOSING = timedelta(hours=1)


def _minutes_until(moment: datetime, now: datetime) -> int:
    """Whole minutes from `now` to `moment` (0 once it has passed), as the lots' `minutes_left`."""
    return max(0, int((moment - now).total_seconds() // 60))


def open_vials_to_use(lots: Iterable[LotStock], *, now: datetime, closes_at: datetime, at_injection: int,
                      at_consent: int) -> dict[str, Any]:
    """The open vials and whether the queue can use them up (the dashboard's `vials`). Pure.

    Every dose left in an open vial needs one more person, or it is wasted at the vial's discard
    time. The queue holds the people at injection (waiting, called or at a booth) and, upstream,
    those at consent (most of whom go on to injection). `near_closing` is true from an hour before
    `closes_at` on (the site still has people to serve after it)."""
    vials = sorted(((lot, vial) for lot in lots for vial in lot.open_vials
                    if vial.discard_at > now and vial.doses_left > 0),
                   key=lambda pair: (pair[1].discard_at, pair[0].lot, pair[1].number))
    needed = sum(vial.doses_left for _, vial in vials)
    queue = at_injection + at_consent
    return {
        "open": [{"product": lot.product, "lot": lot.lot, "vial": vial.number, "desk": vial.desk,
                  "doses_left": vial.doses_left, "discard_at": vial.discard_at.isoformat(),
                  "minutes_left": _minutes_until(vial.discard_at, now)} for lot, vial in vials],
        "doses_left": needed,
        "people_needed": needed,
        "queue": {"injection": at_injection, "consent": at_consent, "total": queue},
        "enough": queue >= needed,
        "short": max(0, needed - queue),
        "closes_at": closes_at.isoformat(),
        "minutes_to_closing": _minutes_until(closes_at, now),
        "near_closing": now >= closes_at - NEAR_CLOSING,
    }
