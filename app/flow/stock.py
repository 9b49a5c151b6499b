"""The stock commands and reads: deliveries, moves, counts, vials, waste, the day's sheet.

Each command: authorize -> (in the site's write transaction) replay an idempotent repeat or
ask the domain (app/domain/stock.py) for the event -> append it to the site's log, where it
folds into the lot (table lot_stocks) -> publish it, like a visit's event.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.domain import stock
from app.domain.errors import ValidationFailed
from app.domain.permissions import Principal, authorize
from app.domain.site import Site
from app.domain.stock import Entry, LotStock, StockDraft, StockLedger
from app.domain.visit import Event
from app.store.event_store import SiteTransaction

from . import requests, visits
from .audit import Outcome
from .figures import day_bounds, site_today
from .services import Services


@dataclass(frozen=True)
class Recorded:
    """What a stock command did: its event (the earlier one for a repeat), and the lot after it."""

    event: Event
    lot: dict[str, Any] | None
    replayed: bool = False


# A decision: the events to record, each with its site (a move records one at each end).
Decide = Callable[[Mapping[str, SiteTransaction], datetime], list[tuple[str, StockDraft]]]


def _record(services: Services, principal: Principal, site_id: str, *, action: str, request: Mapping[str, Any],
            idempotency_key: str | None, decide: Decide, also_lock: str | None = None,
            audit_action: str | None = None) -> Recorded:
    request_hash = visits.hash_of_request(action, request)
    now = services.clock.now()
    sites = [site_id] + ([also_lock] if also_lock and also_lock != site_id else [])
    with services.store.sites_transaction(sites) as txs:
        tx = txs[site_id]
        if idempotency_key:
            found = tx.event_by_key(idempotency_key)
            if found is not None:
                earlier, earlier_hash = found
                if earlier_hash != request_hash:
                    raise ValidationFailed("This Idempotency-Key was already used for a different request.",
                                           code="idempotency_key_reused",
                                           fields={"Idempotency-Key": "already used for a different request"})
                return Recorded(earlier, _lot_view(tx.lot(str(earlier.data.get("lot")), now), now), replayed=True)
        recorded: list[Event] = []
        for where, draft in decide(txs, now):
            first = not recorded
            event = txs[where].append_stock(
                draft, actor=principal.actor, at=now, idempotency_key=idempotency_key if first else None,
                request_hash=request_hash if first else None)
            recorded.append(event)
            if audit_action and first:
                tx.audit(dict(at=now, actor=principal.actor, action=audit_action, outcome=Outcome.OK, site_id=site_id,
                              subject=f"lot:{draft.data.get('lot')}" if draft.data.get("lot") else None,
                              detail={**draft.data, "seq": event.seq}, remote_addr=None))
        changes = {where: list(txs[where].appended) for where in txs}
        answer = recorded[0]
        lot = _lot_view(tx.lot(str(answer.data.get("lot")), now), now) if answer.data.get("lot") else None
    for where, appended in changes.items():
        if appended:
            services.publish(where, appended)
    return Recorded(answer, lot)


def _lot_view(lot: LotStock | None, now: datetime) -> dict[str, Any] | None:
    """A lot as it is now, for the injection desk and the API's answers."""
    if lot is None:
        return None
    return {
        "product": lot.product, "lot": lot.lot, "expires_on": lot.expires_on.isoformat(),
        "doses_per_vial": lot.doses_per_vial, "doses": lot.doses, "unopened_vials": lot.unopened_vials,
        "open_vials": [vial.view(now) for vial in lot.open_vials],
    }


def _held(tx: SiteTransaction, lot: str, now: datetime) -> LotStock:
    return stock.held_lot({lot: found} if (found := tx.lot(lot, now)) else {}, lot)


# --- the commands ---------------------------------------------------------------------------------

def receive(services: Services, principal: Principal, *, site_id: str, product: str, lot: str, expires_on: date,
            doses_per_vial: int, vials: int, idempotency_key: str | None = None) -> Recorded:
    """A delivery of a lot: usable at the injection desk as soon as it is recorded."""
    authorize(principal, "stock.receive", site=site_id)
    request = {"site": site_id, "product": product, "lot": lot, "expires_on": expires_on,
               "doses_per_vial": doses_per_vial, "vials": vials}

    def decide(txs: Mapping[str, SiteTransaction], now: datetime) -> list[tuple[str, StockDraft]]:
        tx = txs[site_id]
        draft = stock.decide_receipt(tx.site, tx.lot(lot, now), product=product, lot=lot, expires_on=expires_on,
                                     doses_per_vial=doses_per_vial, vials=vials, today=site_today(tx.site, now))
        return [(site_id, draft)]

    return _record(services, principal, site_id, action="stock.receive", request=request,
                   idempotency_key=idempotency_key, decide=decide)


def move(services: Services, principal: Principal, *, site_id: str, lot: str, vials: int, to_site: str,
         product: str | None = None, expires_on: date | None = None, doses_per_vial: int | None = None,
         idempotency_key: str | None = None) -> Recorded:
    """Unopened vials to another site, in one transaction: out of this site's log, into the other's."""
    authorize(principal, "stock.move", site=site_id)
    request = {"site": site_id, "lot": lot, "vials": vials, "to_site": to_site, "product": product,
               "expires_on": expires_on, "doses_per_vial": doses_per_vial}

    def decide(txs: Mapping[str, SiteTransaction], now: datetime) -> list[tuple[str, StockDraft]]:
        held = _held(txs[site_id], lot, now)
        stock.check_lot_named(held, product=product, expires_on=expires_on, doses_per_vial=doses_per_vial)
        out, into = stock.decide_move(held, vials=vials, from_site=site_id, to_site=to_site)
        receiving = txs[to_site]
        if held.expires_on < site_today(receiving.site, now):
            raise ValidationFailed(f"Lot {lot} has expired: it cannot be moved.", code="lot_expired",
                                   fields={"lot": "expired"})
        if receiving.site.product(held.product) is None:
            raise ValidationFailed(f"Site {to_site} does not give {held.product}.", code="product_not_given",
                                   fields={"to_site": f"{to_site} has no product {held.product}"})
        return [(site_id, out), (to_site, stock.decide_move_in(receiving.lot(lot, now), into))]

    if to_site == site_id:
        raise ValidationFailed("A move goes to another site.", fields={"to_site": "must be another site"})
    if to_site not in services.store.site_ids():
        raise ValidationFailed(f"No site {to_site!r}.", fields={"to_site": "no such site"})
    return _record(services, principal, site_id, action="stock.move", request=request,
                   idempotency_key=idempotency_key, decide=decide, also_lock=to_site)


def waste(services: Services, principal: Principal, *, site_id: str, lot: str, doses: int, reason: str,
          vial: int | None = None, note: str | None = None, desk: str | None = None,
          idempotency_key: str | None = None) -> Recorded:
    """Doses thrown away, with a reason code; an open vial is named by its number."""
    authorize(principal, "stock.waste", site=site_id)
    request = {"site": site_id, "lot": lot, "doses": doses, "reason": reason, "vial": vial, "note": note,
               "desk": desk}

    def decide(txs: Mapping[str, SiteTransaction], now: datetime) -> list[tuple[str, StockDraft]]:
        tx = txs[site_id]
        if desk is not None:
            tx.site.require_desk("injection", desk)
        return [(site_id, stock.decide_waste(_held(tx, lot, now), doses=doses, reason=reason, vial=vial, note=note,
                                             now=now, desk=desk))]

    return _record(services, principal, site_id, action="stock.waste", request=request,
                   idempotency_key=idempotency_key, decide=decide, audit_action="stock.wasted")


def count(services: Services, principal: Principal, *, site_id: str, lot: str, doses: int, moment: str,
          idempotency_key: str | None = None) -> Recorded:
    """A physical count of a lot (doses, open vials' included): from now on the site holds that."""
    authorize(principal, "stock.count", site=site_id)
    request = {"site": site_id, "lot": lot, "doses": doses, "moment": moment}

    def decide(txs: Mapping[str, SiteTransaction], now: datetime) -> list[tuple[str, StockDraft]]:
        return [(site_id, stock.decide_count(_held(txs[site_id], lot, now), doses=doses, moment=moment))]

    return _record(services, principal, site_id, action="stock.count", request=request,
                   idempotency_key=idempotency_key, decide=decide)


def open_vial(services: Services, principal: Principal, *, site_id: str, lot: str, desk: str,
              idempotency_key: str | None = None) -> Recorded:
    """The injection desk opens a vial of a multi-dose lot; its discard time starts now."""
    authorize(principal, "stock.open_vial", site=site_id)
    request = {"site": site_id, "lot": lot, "desk": desk}

    def decide(txs: Mapping[str, SiteTransaction], now: datetime) -> list[tuple[str, StockDraft]]:
        tx = txs[site_id]
        tx.site.require_desk("injection", desk)
        return [(site_id, stock.decide_open_vial(tx.site, _held(tx, lot, now), desk=desk, now=now))]

    return _record(services, principal, site_id, action="stock.open_vial", request=request,
                   idempotency_key=idempotency_key, decide=decide)


def explain(services: Services, principal: Principal, *, site_id: str, day: date, lot: str, explanation: str,
            idempotency_key: str | None = None) -> Recorded:
    """Why a lot's count differed from its books that day (before the day's stock is closed)."""
    authorize(principal, "stock.explain", site=site_id)
    request = {"site": site_id, "date": day, "lot": lot, "explanation": explanation}

    def decide(txs: Mapping[str, SiteTransaction], now: datetime) -> list[tuple[str, StockDraft]]:
        tx = txs[site_id]
        built = _sheet_under_lock(tx, day, now)
        if built.closed is not None:
            raise stock.closed_error(day, built.closed)
        rows = stock.day_sheet(built, _until(tx.site, day, now))
        return [(site_id, stock.decide_explanation(rows, lot=lot, day=day, explanation=explanation,
                                                   by=principal.actor))]

    return _record(services, principal, site_id, action="stock.explain", request=request,
                   idempotency_key=idempotency_key, decide=decide, audit_action="stock.explained")


def close_day(services: Services, principal: Principal, *, site_id: str, day: date,
              idempotency_key: str | None = None) -> Recorded:
    """Close the day's stock: every lot counted at closing, every difference explained."""
    authorize(principal, "stock.close", site=site_id)
    request = {"site": site_id, "date": day}

    def decide(txs: Mapping[str, SiteTransaction], now: datetime) -> list[tuple[str, StockDraft]]:
        tx = txs[site_id]
        built = _sheet_under_lock(tx, day, now)
        rows = stock.day_sheet(built, _until(tx.site, day, now))
        return [(site_id, stock.decide_close(rows, day=day, closed=built.closed, held=tx.all_lots(now)))]

    return _record(services, principal, site_id, action="stock.close", request=request,
                   idempotency_key=idempotency_key, decide=decide, audit_action="stock.closed")


def receive_from_site_file(services: Services, site: Site) -> int:
    """The lots a site file delivers (those with `vials`), recorded once each: the first load of
    the file is the delivery; later loads find it recorded. Expired lots are not delivered."""
    principal = Principal(name="site-file", role="admin")  # loading the file is the delivery note
    received = 0
    for product in site.products:
        for lot in product.lots:
            if lot.vials is None or lot.expires_on < site_today(site, services.clock.now()):
                continue
            result = receive(services, principal, site_id=site.id, product=product.code, lot=lot.lot,
                             expires_on=lot.expires_on, doses_per_vial=lot.doses_per_vial, vials=lot.vials,
                             idempotency_key=f"site-file:{lot.lot}")
            received += not result.replayed
    return received


# --- the commands, once: REST (app/web/api.py), the bots (app/sim/day.py) ------------------------

@dataclass(frozen=True)
class StockCommand:
    """A stock command: its request model, what runs it, who may (the permission rule), and its
    path under /api/v1/sites/<site>/stock/."""

    path: str
    rule: str
    request: type[requests.Body]
    run: Callable[..., Recorded]
    summary: str
    renamed: tuple[tuple[str, str], ...] = ()  # request field -> argument of `run`

    def execute(self, services: Services, principal: Principal, site_id: str, request: requests.Body, *,
                idempotency_key: str | None = None) -> Recorded:
        renamed = dict(self.renamed)
        arguments = {renamed.get(name, name): value for name, value in request.model_dump().items()}
        return self.run(services, principal, site_id=site_id, idempotency_key=idempotency_key, **arguments)


STOCK_COMMANDS = {command.path: command for command in (
    StockCommand("receipts", "stock.receive", requests.StockReceiptBody, receive,
                 "Record a delivery of a lot (usable at the injection desk at once)"),
    StockCommand("moves", "stock.move", requests.StockMoveBody, move,
                 "Move unopened vials of a lot to another site (out of this site's stock, into the other's)"),
    StockCommand("waste", "stock.waste", requests.StockWasteBody, waste,
                 "Record doses wasted, with a reason code (name the vial to discard an open one)"),
    StockCommand("counts", "stock.count", requests.StockCountBody, count,
                 "Record a physical count of a lot (opening or closing): the site holds that from now on"),
    StockCommand("vials", "stock.open_vial", requests.VialOpenBody, open_vial,
                 "Open a vial of a multi-dose lot at an injection desk: its discard time starts now"),
    StockCommand("explanations", "stock.explain", requests.StockExplanationBody, explain,
                 "Explain a lot's difference between its count and its books on a day", (("date", "day"),)),
    StockCommand("close", "stock.close", requests.StockCloseBody, close_day,
                 "Close a day's stock: every lot counted at closing and every difference explained",
                 (("date", "day"),)),
)}


# --- the reads ------------------------------------------------------------------------------------

def _until(site: Site, day: date, now: datetime) -> datetime:
    return min(now, day_bounds(site, day)[1])


def _ledger(site: Site, day: date, opening: dict[str, LotStock] | None, entries: list[Entry]) -> StockLedger:
    """The day's ledger: from the lots as the day began (when known: the day's events are then
    all there is to fold), or from the whole log up to the day's end."""
    start, end = day_bounds(site, day)
    ledger = StockLedger(opening)
    opened = False
    for entry in entries:
        if not opened and entry.at >= start:
            ledger.open_day(day, start, end)
            opened = True
        ledger.apply(entry)
    if not opened:
        ledger.open_day(day, start, end)
    return ledger


def _sheet_under_lock(tx: SiteTransaction, day: date, now: datetime) -> StockLedger:
    return _ledger(tx.site, day, *tx.stock_day(day, *day_bounds(tx.site, day)))


def sheet(services: Services, principal: Principal, *, site_id: str, day: date | None = None) -> dict[str, Any]:
    """The day's stock sheet (GET /stock): one row per lot, the day's closing if there is one."""
    authorize(principal, "stock.read", site=site_id)
    return day_sheet(services, site_id, day)


def day_sheet(services: Services, site_id: str, day: date | None = None) -> dict[str, Any]:
    """The day's stock sheet, for callers that have authorized their reader (the daily report)."""
    now = services.clock.now()
    site = services.store.site(site_id).site
    day = day or site_today(site, now)
    ledger = _ledger(site, day, *services.store.stock_day(site_id, day, *day_bounds(site, day)))
    rows = stock.day_sheet(ledger, _until(site, day, now))
    return {
        "site": site_id,
        "date": day.isoformat(),
        "as_of": _until(site, day, now).isoformat(),
        "lots": rows,
        "unexplained": stock.unexplained(rows),
        "closed": ledger.closed,
    }


def lots_now(services: Services, principal: Principal, *, site_id: str) -> list[dict[str, Any]]:
    """The lots the site holds now with their open vials (the injection desk's list)."""
    authorize(principal, "stock.read", site=site_id)
    now = services.clock.now()
    site = services.store.site(site_id).site
    today = site_today(site, now)
    lots = services.store.lots(site_id, now)
    views = [dict(view, usable=lot.doses > 0 and lot.expires_on >= today)
             for lot in lots.values() if (view := _lot_view(lot, now)) is not None and lot.doses > 0]
    return sorted(views, key=lambda view: (view["product"], view["expires_on"], view["lot"]))


def open_vials(services: Services, site: Site, *, now: datetime, at_injection: int, at_consent: int
               ) -> dict[str, Any]:
    """The open vials now and whether the queue can use them up (the dashboard's `vials`; its
    caller has authorized the reader)."""
    closes_at = datetime.combine(site_today(site, now), site.hours.closes, tzinfo=site.tz)
    return stock.open_vials_to_use(services.store.lots(site.id, now).values(), now=now, closes_at=closes_at,
                                   at_injection=at_injection, at_consent=at_consent)
