"""The supervisor's stock page (issue 19): a day's stock sheet, and the forms that record a delivery,
a move to another site, waste, the closing counts, the explanation of a difference and the day's
closing. Every form posts to a route here that runs the same command as the API
(app/flow/stock.py STOCK_COMMANDS, its request model parsed from the form as the API parses JSON),
so the rules and the validation are the same; a refusal records nothing and comes back as the page
with the reason beside its field and everything entered kept.

Who sees what follows the permission table: `stock.read` opens the page (supervisors, and the
injection station read-only but for the waste form, which the table gives it); each form shows only
to those whose role may run its command at this site.
"""
from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError
from werkzeug.wrappers import Response

from app.domain.errors import DomainError
from app.domain.permissions import Principal, allowed
from app.domain.reports import stock_section
from app.domain.stock import WASTE_REASONS, CountMoment
from app.domain.vocabulary import Station
from app.flow import requests, stock
from app.flow.figures import site_today
from app.flow.sites import site_config, visible_sites

from . import labels, params, sessions
from .access import requires
from .api import IDEMPOTENCY_KEY
from .context import principal, services

bp = Blueprint("stock_pages", __name__)

_WHOLE = re.compile(r"-?[0-9]{1,12}")

# The forms of the page and the command each runs (its path in STOCK_COMMANDS).
FORMS = {"receive": "receipts", "move": "moves", "waste": "waste", "count": "counts", "explain": "explanations",
         "close": "close"}


def _reader() -> Principal:
    """The caller; a station account reads the page as its injection desk when it is one of its
    stations (the only station the table lets read stock)."""
    caller = principal()
    if caller.role == "station" and sessions.current_account() is not None:
        caller = sessions.current_principal(Station.INJECTION) or caller
    return caller


# --- the form, read as the API reads a body ------------------------------------------------------

def _leaves(annotation: Any) -> set[Any]:
    """The plain types a field's annotation allows (`Annotated[int, …] | None` -> {int, None})."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _leaves(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return set().union(*(_leaves(arg) for arg in get_args(annotation)))
    return {annotation}


def _body(model: type[requests.Body], values: Mapping[str, Any]) -> requests.Body:
    """The request model from a form's text, validated exactly as the API validates its JSON body:
    whole numbers become numbers (anything else stays text, which the model refuses), an empty
    field is a field not sent."""
    data: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        raw = values.get(name)
        text = raw.strip() if isinstance(raw, str) else raw
        if text is None or text == "":
            continue
        if isinstance(text, str) and int in _leaves(field.annotation) and _WHOLE.fullmatch(text):
            data[name] = int(text)
        else:
            data[name] = text
    return model.model_validate_json(json.dumps(data))


def _key(suffix: str = "") -> str | None:
    """The form's idempotency key (a double-sent form records once), when it is a valid one."""
    key = request.form.get("key", "") + suffix
    return key if IDEMPOTENCY_KEY.fullmatch(key) else None


def _run(site: str, form: str, values: Mapping[str, Any], *, key_suffix: str = "") -> stock.Recorded:
    command = stock.STOCK_COMMANDS[FORMS[form]]
    return command.execute(services(), _reader(), site, _body(command.request, values),
                           idempotency_key=_key(key_suffix))


# --- what a refusal says, beside its field, in the page's language -----------------------------

def _needs() -> dict[str, str]:
    """What each field needs (shown when the model refuses it)."""
    return {
        "product": _("Choose one of the site's products."),
        "lot": _("A lot number: letters and digits (also . _ -), at most 40, starting with a letter or digit."),
        "expires_on": _("A date (year-month-day)."),
        "doses_per_vial": _("A whole number from 1 to 20."),
        "vials": _("A whole number of vials, at least 1."),
        "to_site": _("Choose another site."),
        "doses": _("A whole number of doses, at least 1."),
        "reason": _("Choose a reason from the list."),
        "vial": _("Choose one of the open vials, or none."),
        "note": _("At most 400 characters, none of them invisible or control characters."),
        "explanation": _("Say why, in 3 to 400 characters."),
        "count": _("A whole number of doses, 0 or more."),
    }


def _lot_now(site: str, lot: str) -> dict[str, Any] | None:
    return next((row for row in stock.lots_now(services(), _reader(), site_id=site) if row["lot"] == lot), None)


def _domain_messages(exc: DomainError, site: str, form: str, values: Mapping[str, Any]) -> dict[str, str]:
    """A rule's refusal, field by field (the API's `fields`), in the page's language."""
    lot = str(values.get("lot") or "")
    if exc.code == "stock_day_closed":
        return {"_form": _("The day's stock is already closed.")}
    if exc.code == "idempotency_key_reused":
        return {"_form": _("This form was already sent with other values: reload the page and try again.")}
    if exc.code == "not_enough_stock":
        held = _lot_now(site, lot) or {"unopened_vials": 0, "doses_per_vial": 1}
        if "vials" in exc.fields:
            return {"vials": _("Lot %(lot)s has %(n)s unopened vials here.", lot=lot, n=held["unopened_vials"])}
        return {"doses": _("Lot %(lot)s has %(n)s unopened doses here (choose the vial to waste an open one).",
                           lot=lot, n=held["unopened_vials"] * held["doses_per_vial"])}
    if exc.code == "lot_not_held":
        return {"lot": _("This site holds no lot %(lot)s.", lot=lot)}
    if exc.code == "lot_mismatch":
        held = _lot_now(site, lot) or {}
        said = {
            "product": _("Lot %(lot)s is a lot of %(product)s here.", lot=lot,
                         product=labels.product_name(site_config(services(), site), str(held.get("product", "")))),
            "expires_on": _("Lot %(lot)s expires on %(day)s here.", lot=lot, day=held.get("expires_on", "")),
            "doses_per_vial": _("Lot %(lot)s has %(n)s doses per vial here.", lot=lot,
                                n=held.get("doses_per_vial", "")),
        }
        return {field: said.get(field, _needs().get(field, "")) for field in exc.fields}
    if exc.code == "vial_not_open":
        return {"vial": _("This vial of lot %(lot)s is not open.", lot=lot)}
    if exc.code == "nothing_to_explain":
        return {"explanation": _("This lot balances: there is nothing to explain.")}
    if exc.code == "lot_expired":
        return {"lot": _("This lot has expired: it cannot be moved.")}
    if exc.code == "product_not_given":
        return {"to_site": _("That site does not give this product.")}
    if exc.code == "vial_doses_left":
        vial = next((item for item in (_lot_now(site, lot) or {}).get("open_vials", [])
                     if str(item["vial"]) == str(values.get("vial"))), None)
        return {"doses": _("The vial has %(n)s doses left: waste all of them.", n=vial["doses_left"] if vial else "?")}
    messages: dict[str, str] = {}
    for field in exc.fields:
        if field == "expires_on":  # a delivery's expiry: in the past
            messages[field] = _("This lot has expired: an expired lot cannot be received.")
        else:
            messages[field] = _needs().get(field, _("Not accepted."))
    return messages or {"_form": _("This could not be recorded.")}


def _refused(exc: Exception, site: str, form: str, values: Mapping[str, Any], *, field_of: str | None = None
             ) -> dict[str, str]:
    """A refusal as `{"form.field": message}`; `field_of`: one lot's own field (counts, explanations)."""
    needs = _needs()
    messages: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "_form"
            messages.setdefault(field, needs.get(field, _("Not accepted.")))
    else:
        assert isinstance(exc, DomainError)
        messages = _domain_messages(exc, site, form, values)
    if field_of is not None:  # one lot's line of a form: its single input carries the message
        return {f"{form}.{field_of}": " ".join(dict.fromkeys(messages.values()))}
    return {f"{form}.{field}": message for field, message in messages.items()}


# --- the page --------------------------------------------------------------------------------------

def _page(site: str, day: date | None, *, errors: Mapping[str, str] | None = None, status: int = 200,
          sent: str | None = None):
    caller = _reader()
    sheet = stock.sheet(services(), caller, site_id=site, day=day)  # authorizes stock.read
    info = site_config(services(), site)
    shown = date.fromisoformat(sheet["date"])
    today = site_today(info, services().clock.now())
    may = {form: allowed(caller, stock.STOCK_COMMANDS[path].rule, site=site) for form, path in FORMS.items()}
    section = stock_section(sheet, info.tz)
    lots = stock.lots_now(services(), caller, site_id=site) if shown == today else []
    others = [row.site for row in visible_sites(services(), caller) if row.site.id != site]
    is_today, closed = shown == today, sheet["closed"] is not None
    forms = {  # the forms the page shows
        "receive": is_today and may["receive"],
        "move": is_today and may["move"] and bool(others and lots),
        "waste": is_today and may["waste"] and bool(lots),
        "count": is_today and may["count"] and bool(sheet["lots"]) and not closed,
        "explain": may["explain"] and bool(sheet["unexplained"]) and not closed,
        "close": may["close"] and not closed,
    }
    # A form sent from a page the day no longer shows it on (closed meanwhile, a lot explained by
    # someone else): its refusal goes on top of the page.
    sent_form = (sent or "").partition(":")[0]
    if sent_form == "explain" and request.form.get("lot") not in sheet["unexplained"]:
        sent_form = "explain-gone"
    apart = list((errors or {}).values()) if sent and not forms.get(sent_form) else []
    return render_template(
        "stock.html", site=info, sheet=sheet, rows=sheet["lots"], total=section["total"], day=shown, today=today,
        is_today=is_today, forms=forms, apart=apart, previous=shown - timedelta(days=1), next=shown + timedelta(days=1),
        closed=sheet["closed"], unexplained=sheet["unexplained"], may=may, lots=lots, others=others,
        products={product.code: labels.product_name(info, product.code) for product in info.products},
        open_total=(sum(len(row["open_vials"]) for row in sheet["lots"]),
                    sum(vial["doses_left"] for row in sheet["lots"] for vial in row["open_vials"])),
        reasons=WASTE_REASONS, errors=errors or {}, sent=sent, form=request.form if sent else {},
        key=secrets.token_urlsafe(18),
    ), status


@bp.get("/sites/<site>/stock")
@requires("stock.read")
def stock_page(site: str):
    return _page(site, params.parse(params.DayQuery).date)


def _back(site: str, day: date | str | None, message: str) -> Response:
    flash(message)
    return redirect(url_for("stock_pages.stock_page", site=site, date=str(day) if day else None), code=303)


def _form_day() -> date | None:
    """The day a form was shown for (explanations and the closing), else today."""
    try:
        return date.fromisoformat(request.form.get("date", ""))
    except ValueError:
        return None


def _submit(site: str, form: str, values: Mapping[str, Any], said: Callable[[stock.Recorded], str], *,
            day: date | None = None, sent: str | None = None, key_suffix: str = "", field_of: str | None = None
            ) -> Response | tuple[str, int]:
    """Run a form's command: back to the page with `said(recorded)`, or the page again with the
    refusal beside its field and the form as it was sent (nothing recorded)."""
    try:
        recorded = _run(site, form, values, key_suffix=key_suffix)
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status in (401, 403, 404):
            raise
        if isinstance(exc, DomainError) and exc.code == "stock_not_reconciled":
            errors = _not_reconciled(site, exc)
        else:
            errors = _refused(exc, site, form, values, field_of=field_of)
        return _page(site, day, errors=errors, status=_status(exc), sent=sent or form)
    return _back(site, day, said(recorded))


@bp.post("/sites/<site>/stock/receive")
@requires("stock.receive")
def receive(site: str):
    return _submit(site, "receive", request.form, lambda done: _(
        "Delivery recorded: lot %(lot)s, %(doses)s doses.", lot=done.event.data["lot"], doses=done.event.data["doses"]))


@bp.post("/sites/<site>/stock/move")
@requires("stock.move")
def move(site: str):
    return _submit(site, "move", request.form, lambda done: _(
        "%(vials)s vials of lot %(lot)s moved to %(site)s.", vials=done.event.data["vials"],
        lot=done.event.data["lot"], site=done.event.data["to_site"]))


@bp.post("/sites/<site>/stock/waste")
@requires("stock.waste")
def waste(site: str):
    return _submit(site, "waste", request.form, lambda done: _(
        "Waste recorded: %(doses)s doses of lot %(lot)s.", doses=done.event.data["doses"], lot=done.event.data["lot"]))


@bp.post("/sites/<site>/stock/count")
@requires("stock.count")
def count(site: str):
    """The closing count of every lot of today's sheet: all checked before any is recorded."""
    lots = [lot for lot in request.form.getlist("lot") if lot]
    errors: dict[str, str] = {}
    for lot in lots:
        values = {"lot": lot, "doses": request.form.get(f"count-{lot}", ""), "moment": CountMoment.CLOSING.value}
        try:
            _body(requests.StockCountBody, values)
        except ValidationError:
            errors[f"count.{lot}"] = _needs()["count"]
    if not lots:
        errors["count._form"] = _("There is no lot to count.")
    if errors:
        return _page(site, None, errors=errors, status=422, sent="count")
    for lot in lots:
        values = {"lot": lot, "doses": request.form.get(f"count-{lot}", ""), "moment": CountMoment.CLOSING.value}
        try:
            _run(site, "count", values, key_suffix=f":{lot}")
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            return _page(site, None, errors=_refused(exc, site, "count", values, field_of=lot), status=exc.status,
                         sent="count")
    return _back(site, None, _("Closing counts recorded for %(n)s lots.", n=len(lots)))


@bp.post("/sites/<site>/stock/explain")
@requires("stock.explain")
def explain(site: str):
    lot = request.form.get("lot", "")
    values = {"date": request.form.get("date", ""), "lot": lot, "explanation": request.form.get("explanation", "")}
    return _submit(site, "explain", values, lambda done: _("Explanation recorded for lot %(lot)s.", lot=lot),
                   day=_form_day(), sent=f"explain:{lot}", key_suffix=f":{lot}", field_of=lot or "_form")


@bp.post("/sites/<site>/stock/close")
@requires("stock.close")
def close(site: str):
    return _submit(site, "close", {"date": request.form.get("date", "")},
                   lambda done: _("The day's stock is closed."), day=_form_day())


def _not_reconciled(site: str, exc: DomainError) -> dict[str, str]:
    """The closing refused: each lot's reason (from the server's fields, one per lot)."""
    sheet = stock.sheet(services(), _reader(), site_id=site, day=_form_day())
    rows = {row["lot"]: row for row in sheet["lots"]}
    errors = {"close._form": _("The day's stock cannot be closed yet:")}
    for field in exc.fields:
        lot = field.removeprefix("lot ")
        row = rows.get(lot)
        if row is not None and "closing" not in row["counted"]:
            errors[f"close.{lot}"] = _("Lot %(lot)s is not counted at closing.", lot=lot)
        else:
            errors[f"close.{lot}"] = _("Lot %(lot)s: a difference of %(n)s doses is not explained.", lot=lot,
                                       n=row["difference"] if row else "?")
    return errors


def _status(exc: Exception) -> int:
    return exc.status if isinstance(exc, DomainError) else 422
