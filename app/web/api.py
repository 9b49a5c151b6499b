"""REST API v1. Each handler: authenticate, parse, call one flow command, render."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError

from app.domain.errors import BadRequest, DomainError, NotFound, ValidationFailed
from app.domain.permissions import view_level
from app.domain.privacy import visit_view
from app.flow import (
    accounts,
    analytics,
    appointments,
    audit,
    booking_files,
    exports,
    phone_tickets,
    queries,
    report_files,
    simulation,
    stock,
    tokens,
)
from app.flow.commands import COMMANDS, Command
from app.flow.requests import (
    AppointmentLookupBody,
    RebookBody,
    ScannedSlipBody,
)
from app.flow.responses import (
    AppointmentAnswer,
    AppointmentImport,
    AppointmentList,
    AppointmentSummary,
    StockLots,
    StockRecorded,
    StockSheet,
    TicketCode,
    VisitAnswer,
)
from app.flow.sites import site_config, visible_sites
from app.flow.visits import Outcome
from app.offload import off_loop

from . import labels, params
from .access import public, requires
from .context import principal, services
from .openapi import documented
from .ticket_pages import public_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{8,128}")  # printable ASCII, no space


_PATH_ARG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@bp.before_request
def _check_path() -> None:
    # Who may call is decided before this, in one place (access.gate).
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and not _PATH_ARG.fullmatch(value):
            raise NotFound("No such resource.", code="not_found")


def _body(model: type[BaseModel]) -> Any:
    raw = request.get_data(cache=False)
    if not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors()
        if any(error["type"] == "json_invalid" for error in errors):
            raise DomainError("The request body is not valid JSON.", code="malformed_json") from None
        if any(error["type"] == "model_type" for error in errors):
            raise DomainError("The request body must be a JSON object.", code="malformed_json") from None
        fields = {}
        for error in errors:
            key = ".".join(str(part) for part in error["loc"]) or "body"
            fields.setdefault(key, error["msg"])
        raise ValidationFailed("Some fields are missing or of the wrong type.", fields=fields) from None


def _idempotency_key() -> str | None:
    """The Idempotency-Key header: 8 to 128 printable ASCII characters (no space), exactly as
    sent. Anything else is refused, never trimmed or shortened into another request's key."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest("The Idempotency-Key header must be 8 to 128 printable ASCII characters, without spaces.",
                         code="invalid_idempotency_key",
                         fields={"Idempotency-Key": "must be 8 to 128 printable ASCII characters, without spaces"})
    return key


def _visit_json(outcome: Outcome, status: int = 200) -> Response | tuple[str, int]:
    if outcome.visit is None:
        return "", 204
    caller = principal()
    level = view_level(caller)
    body = {"visit": visit_view(outcome.visit, level, now=services().clock.now())}
    if outcome.event is not None:
        body["seq"] = outcome.event.seq  # matches the live delta this action caused
    if outcome.phone_code is not None:
        body["ticket_page"] = {"url": public_url(outcome.phone_code.path),
                               "expires_at": outcome.phone_code.expires_at.isoformat()}
    if outcome.appointment_code is not None:
        body["appointment_code"] = outcome.appointment_code
    response = jsonify(body)
    response.status_code = status
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# --- sites ------------------------------------------------------------------------------------

@bp.get("/sites")
@documented("List the sites this token may see", tag="sites", response="SiteList")
@requires("site.read")
def list_sites():
    return jsonify({"sites": [
        {"id": row.site.id, "name": row.site.name, "name_zh": row.site.name_zh}
        for row in visible_sites(services(), principal())
    ]})


@bp.get("/sites/<site>")
@documented("Stations, desks, products, lots and the codes a tablet needs", tag="sites", response="SiteInfo")
@requires("site.read")
def get_site(site: str):
    return jsonify(queries.site_info(services(), principal(), site_id=site))


@bp.get("/sites/<site>/snapshot")
@documented("Live counts, calls and observation board (no personal data)", tag="sites", response="Snapshot")
@requires("snapshot.read")
def get_snapshot(site: str):
    return jsonify(queries.site_snapshot(services(), principal(), site_id=site))


@bp.get("/sites/<site>/dashboard")
@documented("The supervisor's live figures: stations, bottleneck, throughput, target, outcomes, alerts",
            tag="sites", response="Dashboard")
@requires("dashboard.read")
def get_dashboard(site: str):
    return jsonify(simulation.dashboard(services(), principal(), site_id=site))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
def _report_answer(report: dict, chosen: str, name: str, words: report_files.Words | None = None) -> Response:
    # Files are built off the server's loop: an XLSX of a busy day takes tens of milliseconds.
    # Their words are translated here, in the request (the thread has none).
    if chosen == "csv":
        answer = Response(off_loop(report_files.to_csv, report, words), mimetype="text/csv")
    elif chosen == "xlsx":
        answer = Response(off_loop(report_files.to_xlsx, [report], words), mimetype=XLSX)
    else:
        return jsonify(report)
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}.{chosen}"'
    return answer


@bp.get("/sites/<site>/reports/daily")
@documented("The day's report: outcomes, hours, stations, doses, AEFI, closed loop", tag="reports",
            response="DailyReport", query=params.ReportQuery, files=("text/csv", XLSX))
@requires("report.read")
def daily_report(site: str):
    query = params.parse(params.ReportQuery)
    report = analytics.daily_report(services(), principal(), site_id=site, day=query.date)
    words = labels.report_words(site_config(services(), site)) if query.format != "json" else None
    return _report_answer(report, query.format, f"siteflow-{site}-{report['date']}", words)


@bp.get("/sites/<site>/what-if")
@documented("Simulate the rest of today with other desks or seats (an estimate)", tag="reports", response="WhatIf",
            query=params.WhatIfQuery)
@requires("dashboard.read")
def what_if(site: str):
    query = params.parse(params.WhatIfQuery)
    return jsonify(simulation.what_if_today(services(), principal(), site_id=site,
                                            servers={"consent": query.consent, "injection": query.injection},
                                            seats=query.seats))


@bp.get("/sites/<site>/trend")
@documented("Doses on each of the last days (default 14)", tag="reports", response="Trend",
            query=params.TrendQuery)
@requires("dashboard.read")
def trend(site: str):
    return jsonify({"site": site, "days": analytics.doses_per_day(services(), principal(), site_id=site,
                                                                  days=params.parse(params.TrendQuery).days)})


@bp.get("/reports/city/trend")
@documented("Doses on each of the last days (default 14) at every site the caller sees, in one answer",
            tag="reports", response="CityTrend",
            query=params.TrendQuery)
@requires("report.read")
def city_trend():
    return jsonify(analytics.city_trend(services(), principal(), days=params.parse(params.TrendQuery).days))


@bp.get("/reports/city/daily")
@documented("Every site's day against its target, ranked (排名通报)", tag="reports", response="CityReport",
            query=params.ReportQuery, files=("text/csv", XLSX))
@requires("report.read")
def city_report():
    query = params.parse(params.ReportQuery)
    chosen = query.format
    report = analytics.city_report(services(), principal(), day=query.date)
    if chosen == "json":
        return jsonify(report)
    header = ["rank", "site", "name_zh", "doses", "daily_target", "percent_of_target", "checked_in",
              "throughput_last_hour", "waiting", "longest_wait_minutes", "observation", "open_aefi",
              "time_in_system_median_minutes", "booked", "arrived", "no_show"]
    rows = [[row[key] for key in header] for row in report["sites"]]
    body = (off_loop(report_files.table_csv, header, rows) if chosen == "csv"
            else off_loop(report_files.table_xlsx, "Ranking", header, rows))
    answer = Response(body, mimetype="text/csv" if chosen == "csv" else XLSX)
    answer.headers["Content-Disposition"] = f'attachment; filename="siteflow-city-{report["date"]}.{chosen}"'
    return answer


# --- exports ----------------------------------------------------------------------------------

@bp.get("/sites/<site>/exports/immunizations")
@documented("The day's immunizations for the registry: FHIR R4 Immunization NDJSON, a FHIR Bundle with the "
            "Patients, or the registry's CSV (docs/EXPORTS.md); everyone in full, every export audited",
            tag="reports", response=None, query=params.ExportQuery, files=tuple(exports.MEDIA_TYPES.values()))
@requires("exports.immunizations")
def export_immunizations(site: str):
    query = params.parse(params.ExportQuery)
    export = exports.immunizations(services(), principal(), site_id=site, day=query.date, format=query.format,
                                   remote_addr=request.remote_addr)
    answer = Response(export.body, mimetype=export.media_type)
    answer.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return answer


# --- visits -----------------------------------------------------------------------------------

@bp.get("/sites/<site>/visits")
@documented("Visits of the day, in queue order, filtered by state, station or ticket; one page at a time "
            "(follow `next`)", tag="visits", response="VisitList", query=params.VisitListQuery)
@requires("visit.list")
def list_visits(site: str):
    query = params.parse(params.VisitListQuery)
    rows, cursor = queries.list_visits(
        services(), principal(), site_id=site, states=query.state or None, station=query.station, day=query.date,
        ticket=query.ticket, after=query.after, limit=query.limit,
    )
    return jsonify({"visits": rows, "next": _next_page("after", cursor)})


def _next_page(name: str, cursor: str | int | None) -> str | None:
    """The link to the next page: this request with its cursor parameter set (None at the end)."""
    if cursor is None:
        return None
    args = request.args.to_dict()
    args[name] = str(cursor)
    return f"{request.path}?{urlencode(args)}"


@bp.get("/sites/<site>/visits/<visit_id>")
@documented("One visit with its event history", tag="visits", response="VisitDetail")
@requires("visit.read")
def get_visit(site: str, visit_id: str):
    view = queries.get_visit(services(), principal(), site_id=site, visit_id=visit_id)
    events = view.pop("events")
    return jsonify({"visit": view, "events": events})


def _command_view(command: Command) -> Callable[..., Response | tuple[str, int]]:
    """The one REST handler of every command: parse its request, run it, answer with the visit."""
    def view(**path: str) -> Response | tuple[str, int]:
        request_body = _body(command.request)
        outcome = command.execute(services(), principal(), request_body, idempotency_key=_idempotency_key(), **path)
        return _visit_json(outcome, command.status)

    return view


for _command in COMMANDS.values():
    _view = documented(_command.summary, tag="visits", body=_command.request, response=_command.response,
                       status=_command.status, idempotent=True, no_content=_command.no_content)(
        requires(_command.action)(_command_view(_command))
    )
    _rule = re.sub(r"\{(\w+)\}", r"<\1>", _command.path)
    bp.add_url_rule(_rule, _command.endpoint, _view, methods=["POST"])


# --- appointments (bookings) ----------------------------------------------------------------

CSV = "text/csv"


@bp.post("/sites/<site>/appointments")
@documented("Import a booking file (CSV body, or XLSX as the body or a multipart `file`): all or nothing, "
            "or with ?skip_invalid=true the good rows; 400 lists the bad rows by line",
            tag="appointments", response=AppointmentImport, status=201, query=params.ImportQuery,
            uploads=(CSV, XLSX, "multipart/form-data"))
@requires("appointments.import")
def import_appointments(site: str):
    query = params.parse(params.ImportQuery)
    upload = request.files.get("file")
    content = upload.read() if upload is not None else request.get_data(cache=False)
    if not content.strip():
        raise ValidationFailed("Send the booking file as the body (CSV or XLSX) or as the form field `file`.",
                               fields={"file": "required"})
    result = off_loop(appointments.import_rows, services(), principal(), site_id=site,
                      rows=booking_files.rows_of(content), content=content, skip_invalid=query.skip_invalid)
    answer = jsonify({"imported": result.imported, "invalid": [problem.as_dict() for problem in result.problems],
                      "sha256": result.sha256,
                      "overbooked": [{"slot_start": start, "booked": booked, "capacity": capacity}
                                     for start, booked, capacity in result.overbooked]})
    answer.status_code = 201
    return answer


@bp.get("/sites/<site>/appointments")
@documented("A day's bookings, one page at a time (follow `next`); personal fields masked for stations",
            tag="appointments", response=AppointmentList, query=params.AppointmentListQuery)
@requires("appointments.read")
def list_appointments(site: str):
    query = params.parse(params.AppointmentListQuery)
    rows, after = appointments.list_day(services(), principal(), site_id=site, day=query.date, after=query.after,
                                        limit=query.limit, status=query.status)
    return jsonify({"appointments": rows, "next": _next_page("after", after)})


@bp.get("/sites/<site>/appointments/summary")
@documented("Per slot: booked and arrived; per group: booked, arrived and no-show", tag="appointments",
            response=AppointmentSummary, query=params.DayQuery)
@requires("appointments.read")
def appointments_summary(site: str):
    return jsonify(appointments.summary(services(), principal(), site_id=site, day=params.parse(params.DayQuery).date))


@bp.post("/sites/<site>/appointments/lookup")
@documented("The check-in desk finds a booking by its code (typed or scanned) or today's booking by a document",
            tag="appointments", body=AppointmentLookupBody, response=AppointmentAnswer)
@requires("appointments.find")
def lookup_appointment(site: str):
    body = _body(AppointmentLookupBody)
    return jsonify({"appointment": appointments.find(services(), principal(), site_id=site, code=body.code,
                                                     document_type=body.document_type,
                                                     document_number=body.document_number)})


@bp.post("/sites/<site>/appointments/<code>/cancel")
@documented("Cancel a booking", tag="appointments", response=AppointmentAnswer)
@requires("appointments.manage")
def cancel_appointment(site: str, code: str):
    return jsonify({"appointment": appointments.cancel(services(), principal(), site_id=site, code=code)})


@bp.post("/sites/<site>/appointments/<code>/rebook")
@documented("Move a booking to another slot (a cancelled one is booked again)", tag="appointments",
            body=RebookBody, response=AppointmentAnswer)
@requires("appointments.manage")
def rebook_appointment(site: str, code: str):
    body = _body(RebookBody)
    return jsonify({"appointment": appointments.rebook(services(), principal(), site_id=site, code=code,
                                                       slot_start=body.slot_start)})


# --- vaccine stock ---------------------------------------------------------------------------

def _recorded(result: stock.Recorded) -> Response:
    answer = jsonify({"seq": result.event.seq, "type": result.event.type, "at": result.event.at.isoformat(),
                      "lot": result.lot})
    answer.status_code = 201  # a repeat answers as the first did (with Idempotent-Replayed), like the visits
    if result.replayed:
        answer.headers["Idempotent-Replayed"] = "true"
    return answer


@bp.get("/sites/<site>/stock")
@documented("The day's stock sheet: per lot opening, received, moved out, given, wasted and left (doses), "
            "the open vials, and whether the lot balances", tag="stock", response=StockSheet, query=params.DayQuery)
@requires("stock.read")
def stock_sheet(site: str):
    return jsonify(stock.sheet(services(), principal(), site_id=site, day=params.parse(params.DayQuery).date))


@bp.get("/sites/<site>/stock/lots")
@documented("The lots the site holds now, with each open vial's doses and time left (the injection desk's list)",
            tag="stock", response=StockLots)
@requires("stock.read")
def stock_lots(site: str):
    return jsonify({"lots": stock.lots_now(services(), principal(), site_id=site)})


def _stock_view(command: stock.StockCommand) -> Callable[..., Response]:
    """The one REST handler of every stock command (app/flow/stock.py STOCK_COMMANDS)."""
    def view(site: str) -> Response:
        return _recorded(command.execute(services(), principal(), site, _body(command.request),
                                         idempotency_key=_idempotency_key()))

    return view


for _stock in stock.STOCK_COMMANDS.values():
    _endpoint = "stock_" + _stock.path
    _stock_documented = documented(_stock.summary, tag="stock", body=_stock.request, response=StockRecorded,
                                   status=201, idempotent=True)(_stock_view(_stock))
    bp.add_url_rule(f"/sites/<site>/stock/{_stock.path}", _endpoint, requires(_stock.rule)(_stock_documented),
                    methods=["POST"])


# --- phone tickets ---------------------------------------------------------------------------

@bp.post("/sites/<site>/visits/<visit_id>/ticket-code")
@documented("A lost slip: a new phone-ticket code for a person on site; the old one stops working at once",
            tag="visits", response=TicketCode, status=201)
@requires("ticket.reissue")
def new_ticket_code(site: str, visit_id: str):
    issued = phone_tickets.reissue(services(), principal(), site_id=site, visit_id=visit_id)
    answer = jsonify({"ticket_page": {"url": public_url(issued.path), "expires_at": issued.expires_at.isoformat()}})
    answer.status_code = 201
    return answer


@bp.post("/sites/<site>/slips/lookup")
@documented("The visit of a scanned slip: the phone ticket's address, or the older siteflow:<site>:<visit> form",
            tag="visits", body=ScannedSlipBody, response=VisitAnswer)
@requires("visit.read")
def lookup_slip(site: str):
    scanned = _body(ScannedSlipBody).scanned
    return jsonify({"visit": phone_tickets.scanned_visit(services(), principal(), site_id=site, scanned=scanned)})


@bp.get("/me")
@documented("Who this token or session is: role, sites, station, a display's settings", tag="meta",
            response="Me")
@requires("account.self")
def me():
    caller = principal()
    return jsonify({
        "name": caller.name, "role": caller.role, "actor": caller.actor,
        "sites": sorted(caller.sites) if caller.sites is not None else None,
        "station": caller.station, "settings": caller.settings,
    })


@bp.get("/audit")
@documented("The audit trail (newest first), filtered", tag="meta", response="AuditList",
            query=params.AuditQuery)
@requires("audit.read")
def audit_entries():
    query = params.parse(params.AuditQuery)
    rows = audit.entries(services(), principal(), site=query.site, actor=query.actor, action=query.action,
                         limit=query.limit + 1, before_id=query.before_id)
    page = rows[:query.limit]
    more = len(rows) > query.limit
    return jsonify({"entries": page, "next": _next_page("before_id", page[-1]["id"] if more else None)})


@bp.get("/users")
@documented("Staff accounts in id order, one page at a time (follow `next`); never a password or PIN",
            tag="accounts", response="UserList", query=params.IdPageQuery)
@requires("users.manage")
def list_users():
    query = params.parse(params.IdPageQuery)
    rows, after = accounts.accounts_page(services(), principal(), after=query.after, limit=query.limit)
    return jsonify({"users": rows, "next": _next_page("after", after)})


@bp.get("/tokens")
@documented("API tokens and paired displays (revoked ones too) in id order, one page at a time (follow `next`); "
            "never a token or its hash", tag="accounts", response="TokenList", query=params.IdPageQuery)
@requires("tokens.read")
def list_tokens():
    query = params.parse(params.IdPageQuery)
    rows, after = tokens.tokens_page(services(), principal(), after=query.after, limit=query.limit)
    return jsonify({"tokens": rows, "next": _next_page("after", after)})


@bp.get("/openapi.json")
@documented("This document", tag="meta", response=None, public=True)
@public
def openapi():
    from .openapi import build_document

    return jsonify(build_document())
