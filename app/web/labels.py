"""What the supervisors' and admins' pages show for the domain's codes (roles, stations, states,
reasons, audit actions …), for a browser's user agent, and for times, in the page's language and
the site's time zone. The codes themselves stay in the API, the exports and the database.

Templates call `label(kind, code)`, `local_time(value, zone)` and `zone_name(zone)`; the
dashboard's script gets the maps it needs as JSON (`for_dashboard`)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_name
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _

from app.domain.appointments import Status as BookingStatus
from app.domain.site import Site
from app.domain.stock import WasteReason
from app.domain.visit import State
from app.domain.vocabulary import AEFI_SYMPTOMS, DEFERRAL_REASONS, STATION_LABELS, AefiOutcome, Station
from app.flow.report_files import STOCK_WORDS, Words


def language() -> str:
    """"zh" or "en": the key of the vocabulary's bilingual labels (app/domain/vocabulary.py)."""
    locale = get_locale()
    return "zh" if locale is not None and locale.language == "zh" else "en"


def _bilingual(table: dict[str, dict[str, str]]) -> dict[str, str]:
    return {code: labels[language()] for code, labels in table.items()}


def _tables() -> dict[str, dict[str, str]]:
    return {
        "role": {"admin": _("Administrator"), "city_supervisor": _("City supervisor"),
                 "site_supervisor": _("Site supervisor"), "station": _("Station staff"), "display": _("Display")},
        "station": {**_bilingual(STATION_LABELS), Station.EMERGENCY: _("Emergency area")},
        "state": {
            State.WAITING: _("waiting in line"), State.CALLED: _("called to a desk"), State.SERVING: _("at the desk"),
            State.OBSERVING: _("in observation"), State.EMERGENCY: _("in the emergency area"),
            State.TURNED_AWAY: _("turned away"), State.DEFERRED: _("vaccination deferred"),
            State.REFUSED: _("vaccination refused"), State.NO_SHOW: _("did not come"), State.LEFT: _("left the site"),
            State.TRANSFERRED: _("transferred to hospital"), State.RELEASED: _("released after observation"),
        },
        "reason": _bilingual(DEFERRAL_REASONS),
        "symptom": _bilingual(AEFI_SYMPTOMS),
        "waste_reason": {WasteReason.EXPIRED_OPEN_VIAL: _("open vial past its time limit"),
                         WasteReason.BROKEN: _("vial broken"), WasteReason.CONTAMINATED: _("contaminated"),
                         WasteReason.COLD_CHAIN_BREACH: _("cold chain breach")},
        "severity": {"minor": _("minor"), "severe": _("severe"), "serious": _("serious")},
        "booking_status": {BookingStatus.BOOKED: _("booked"), BookingStatus.ARRIVED: _("arrived"),
                           BookingStatus.NO_SHOW: _("did not come"), BookingStatus.CANCELLED: _("booking cancelled")},
        "aefi_outcome": {AefiOutcome.RECOVERED: _("recovered"), AefiOutcome.TRANSFERRED: _("transferred to hospital")},
        "display_language": {"zh": "中文", "en": "English", "both": _("Both, alternating")},
        "outcome": {"ok": _("done"), "failed": _("failed"), "refused": _("not allowed")},
        "action": {
            "auth.login": _("signed in"), "auth.login_failed": _("wrong password"),
            "auth.pin_login": _("switched user with a PIN"), "auth.pin_failed": _("wrong PIN"),
            "auth.logout": _("signed out"), "auth.idle_logout": _("signed out after inactivity"),
            "auth.locked": _("sign-in locked"), "auth.session_ended": _("session ended"),
            "live.origin_refused": _("live connection from another origin refused"),
            "auth.password_changed": _("password changed"), "user.created": _("account added"),
            "user.changed": _("account changed"), "user.disabled": _("account disabled"),
            "user.enabled": _("account enabled"), "user.password_reset": _("password reset"),
            "token.created": _("API token created"), "token.revoked": _("API token revoked"),
            "display.paired": _("display paired"), "record.viewed": _("record viewed"),
            "record.listed": _("records listed"), "report.viewed": _("report with names viewed"),
            "override.release_early": _("released early (override)"), "override.correction": _("correction"),
            "audit.exported": _("audit trail exported"),
            "ticket.reissued": _("slip reprinted with a new phone code"),
            "appointments.imported": _("bookings imported"),
            "appointments.import_refused": _("booking file refused"),
            "appointment.cancelled": _("booking cancelled"), "appointment.rebooked": _("booking moved"),
            "immunizations.exported": _("immunizations exported for the registry"),
            "stock.wasted": _("vaccine doses wasted"), "stock.explained": _("stock difference explained"),
            "stock.closed": _("day's stock closed"),
        },
        # The keys of an audit entry's details (the values are shown as recorded).
        "detail": {
            "role": _("role"), "sites": _("sites"), "stations": _("stations"), "station": _("station"),
            "reason": _("reason"), "other_sessions_ended": _("other sessions ended"), "pin": _("PIN"),
            "name": _("name"), "count": _("count"), "label": _("screen"), "session": _("session"),
            "sessions": _("sessions"), "by": _("by"), "ticket": _("ticket"), "states": _("states"),
            "names": _("people named"), "seq": _("event"), "corrects_seq": _("corrects event"), "to": _("to"),
            "limit": _("limit"), "retry_after_seconds": _("retry after (s)"), "rows": _("rows"), "view": _("view"),
            "origin": _("origin"), "site": _("site"), "actor": _("who"), "action": _("what"),
            "since": _("from"), "until": _("until"), "invalid": _("invalid rows"), "sha256": _("file hash (SHA-256)"),
            "format": _("format"), "date": _("day"),
        },
        # What an audit entry's subject names ("user:ann" is shown as "account ann").
        "subject": {"user": _("account"), "visit": _("visit"), "pairing": _("pairing"), "report": _("report"),
                    "token": _("token"), "origin": _("origin"), "session": _("session"),
                    "appointment": _("booking"), "appointments": _("bookings"),
                    "immunizations": _("immunizations of the day")},
        # Detail values that are codes of their own ("by": who ended a session).
        "by": {"user": _("the user"), "admin": _("an administrator")},
        # The app's own words in audit details (a person's typed reason is shown as typed).
        "value": {
            "unknown user": _("unknown user"), "wrong password": _("wrong password"),
            "account disabled": _("account disabled"), "wrong PIN": _("wrong PIN"),
            "wrong PIN; PIN locked until a password sign-in": _("wrong PIN; PIN locked until a password sign-in"),
            "PIN sign-in not available for this account here": _("PIN sign-in not available for this account here"),
            "no display waiting with this code": _("no display waiting with this code"), "set": _("set"),
            "live supervisor": _("live supervisor view"),
        },
        # Actors that are not "role:name".
        "actor": {"cli": _("command line"), "anonymous": _("not signed in"), "user": _("account")},
    }


def label(kind: str, code: Any) -> str:
    """The label of a code, or the code itself when it has none (data, such as a name)."""
    if code is None:
        return ""
    return _tables()[kind].get(str(code), str(code))


def detail_value(key: str, value: Any) -> str:
    """An audit detail's value: codes (roles, stations …) by their labels, lists joined."""
    kinds = {"role": "role", "station": "station", "stations": "station", "by": "by", "states": "state"}
    if isinstance(value, str) and key == "states":
        value = [part for part in value.split(",") if part]
    if isinstance(value, list):
        return ", ".join(detail_value(key, item) for item in value)
    return label(kinds[key], value) if key in kinds else label("value", value)


def subject(value: str | None) -> str:
    """"user:ann" → "account ann" (the kind in the page's language, the name as it is)."""
    if not value or ":" not in value:
        return value or ""
    kind, _sep, rest = value.partition(":")
    return f"{label('subject', kind)} {rest}"


def actor(value: str | None) -> str:
    """Who did something, as recorded ("site_supervisor:wang"): the role in the page's language and the name."""
    role, _sep, name = (value or "").partition(":")
    tables = _tables()
    kinds = {**tables["role"], **tables["actor"]}
    return f"{kinds[role]} {name}".strip() if role in kinds else (value or "")


def product_name(site: Site, code: str) -> str:
    product = site.product(code)
    if product is None:
        return code
    return product.name_zh if language() == "zh" else product.name


# --- browsers --------------------------------------------------------------------------------------

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))
_SYSTEMS = (("iPad", "iPad"), ("iPhone", "iPhone"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device(user_agent: str | None) -> str:
    """A short, translated summary of a browser's user agent: "Chrome on a computer (Linux)"."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    if browser is None and system is None:
        return _("Unknown device")
    if system in ("iPad",) or (system == "Android" and "Mobile" not in agent):
        kind = _("tablet")
    elif system in ("iPhone", "Android"):
        kind = _("phone")
    else:
        kind = _("computer")
    return _("%(browser)s on a %(kind)s (%(system)s)", browser=browser or _("a browser"), kind=kind,
             system=system or _("unknown system"))


# --- times -------------------------------------------------------------------------------------------

def local_time(value: datetime | str | None, zone: ZoneInfo, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A moment (a datetime, or ISO text as the store keeps it; naive means UTC) in `zone`."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime(pattern)


def zone_name(zone: ZoneInfo) -> str:
    """The zone as people say it: 中国时间 / China Time ("UTC" for UTC)."""
    if zone.key in ("UTC", "Etc/UTC"):
        return "UTC"
    return get_timezone_name(zone, locale=get_locale())



def zone_of(sites: list[Site]) -> ZoneInfo:
    """The time zone a page about several sites shows: theirs (the first one's), else UTC."""
    return sites[0].tz if sites else ZoneInfo("UTC")


def report_words(site: Site) -> Words:
    """The stock sections of the daily report's files in the current language (a request's, or the
    one the command line forces): their words, the site's products and the waste reasons named."""
    return Words(text={key: _(text) for key, text in STOCK_WORDS.items()},
                 products={product.code: product_name(site, product.code) for product in site.products},
                 reasons=_tables()["waste_reason"])


def for_dashboard(site: Site) -> dict[str, dict[str, str]]:
    """The maps the dashboard's script uses to name codes."""
    tables = _tables()
    return {
        "reasons": tables["reason"], "severities": tables["severity"], "aefi_outcomes": tables["aefi_outcome"],
        "states": tables["state"], "waste_reasons": tables["waste_reason"], "products": {product.code: product_name(site, product.code)
                                                for product in site.products},
    }


def init_app(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals.update(label=label, detail_value=detail_value, subject=subject, device=device, actor=actor,
                                 zone_name=zone_name)
