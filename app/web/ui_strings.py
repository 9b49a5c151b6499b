"""Strings the page scripts show, translated on the server (Flask-Babel) and handed to the
page as JSON, so the JavaScript holds no user-facing text of its own."""
from __future__ import annotations

from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from app.domain.vocabulary import STATION_LABELS, STATIONS


def station() -> dict[str, str]:
    """For every station page (static/js/station/*.js)."""
    return {
        "online": _("Connected"),
        "offline": _("Offline: actions are kept on this tablet and sent when the connection is back"),
        "resyncing": _("Reconnecting…"),
        "pending": _("Waiting to send: %(count)s", count="{count}"),
        "sent": _("Done"),
        "undo": _("Undo"),
        "undone": _("Undone"),
        "nobody_waiting": _("Nobody is waiting."),
        "waiting_count": _("%(count)s waiting", count="{count}"),
        "age_n": _("age %(n)s", n="{n}"),
        "dose_n": _("dose %(n)s", n="{n}"),
        "priority": _("priority"),
        "yes": _("Yes"),
        "no": _("No"),
        "called": _("Called %(ticket)s to desk %(desk)s", ticket="{ticket}", desk="{desk}"),
        "choose_desk": _("Choose this tablet's desk first."),
        "failed": _("Not done: %(message)s", message="{message}"),
        "field": _("Check “%(field)s”: %(message)s", field="{field}", message="{message}"),
        "server_error": _("The server could not do this. It was not recorded; try again."),
        "not_allowed": _("This account may not do this here. It was not recorded."),
        "signed_out": _("You are signed out: sign in again. It was not recorded."),
        "check_marked": _("Not done: check the marked fields."),
        # Refusals of the server, by their code (the API's own message is English).
        "check_this": _("Check this entry."),
        "check_entries": _("Some entries were refused: check them and try again."),
        "refused_here": _("This was refused here and not recorded."),
        "invalid_transition": _("Not possible for this person now: they have moved on. The list is up to date."),
        "version_conflict": _("Someone else changed this meanwhile. The page is up to date: try again."),
        "recall_limit": _("Called too many times: mark them as not come instead."),
        "early_release": _("Observation is not over yet: only a supervisor may release early, with a reason."),
        "undo_not_possible": _("This can no longer be undone here: ask a supervisor for a correction."),
        "undo_not_yours": _("Only whoever recorded this may undo it."),
        "wrong_desk": _("This person was called to another desk."),
        "no_queue": _("This station has no queue."),
        "already_vaccinated_today": _("This person was already vaccinated today."),
        # Check-in
        "id_ok": _("ID number is valid (born %(born)s)", born="{born}"),
        "id_short": _("%(count)s more characters needed", count="{count}"),
        "id_chars": _("Only digits, and X as the last character"),
        "id_region": _("Unknown region code %(code)s", code="{code}"),
        "id_date": _("The birth date %(date)s inside the number is not a real date", date="{date}"),
        "id_checksum": _("Check digit is wrong: should be %(expected)s. Probably a mistyped digit.",
                         expected="{expected}"),
        "passport_bad": _("A passport number is 5 to 20 letters and digits"),
        "id_needed": _("Scan or type the ID number."),
        "name_needed": _("Enter the full name."),
        "ticket_for": _("Ticket"),
        "turned_away": _("Turned away: health code %(colour)s. Only green may proceed; this has been recorded.",
                         colour="{colour}"),
        "duplicate": _("This person is already checked in today."),
        "elsewhere": _("This person was already checked in today at another site: %(site)s.", site="{site}"),
        # Check-in by booking
        "booking_title": _("Booking %(code)s", code="{code}"),
        "booking_slot": _("Time slot"),
        "booking_name": _("Full name"),
        "booking_document": _("Document"),
        "booking_dose": _("Dose number"),
        "booking_group": _("Group"),
        "dose_label": _("Dose %(n)s", n="{n}"),
        "document_resident_id": _("Resident ID card"),
        "document_passport": _("Passport"),
        "booking_confirm": _("Compare the name and number with the ID card, choose the health code, then check in."),
        "booking_on_time": _("On time: the slot is now."),
        "booking_early": _("Early: the slot starts in %(minutes)s min. Checking in now is fine.", minutes="{minutes}"),
        "booking_late": _("Late: the slot ended %(minutes)s min ago. Checking in now is fine.", minutes="{minutes}"),
        "booking_other_day": _("Booked for another day: %(date)s.", date="{date}"),
        "booking_code_needed": _("Scan or type the booking code, or fill in the ID number."),
        "booking_unknown": _("No booking with the code %(code)s at this site.", code="{code}"),
        "booking_none_today": _("No booking today for this ID number."),
        "booking_arrived": _("Booking %(code)s (%(name)s) has already checked in.", code="{code}", name="{name}"),
        "booking_cancelled": _("Booking %(code)s (%(name)s) was cancelled: a supervisor can book it again.",
                               code="{code}", name="{name}"),
        "booking_arrived_short": _("This booking has already checked in."),
        "booking_cancelled_short": _("This booking was cancelled: a supervisor can book it again."),
        "booking_offline": _("No connection: bookings cannot be looked up now. Check the person in as a walk-in."),
        "booking_arrived_now": _("booking %(code)s marked arrived", code="{code}"),
        "green": _("green"),
        "yellow": _("yellow"),
        "red": _("red"),
        # Queues
        "desk_busy": _("Finish with the person at this desk first."),
        "observation_full": _("Observation is full (%(used)s of %(seats)s seats): wait until someone leaves.",
                              used="{used}", seats="{seats}"),
        "not_answered": _("Not answered"),
        "eligible_needs_no": _("A “yes” answer means the person cannot be marked eligible: defer or refuse."),
        "signature_needed": _("The person signs in the box first."),
        "reason_needed": _("Choose a deferral reason."),
        "recalled": _("Called again"),
        # Injection
        "lot_expired": _("Lot %(lot)s expired on %(date)s: do not use it.", lot="{lot}", date="{date}"),
        "lot_unknown": _("No lot with barcode %(code)s at this site.", code="{code}"),
        "lot_selected": _("Selected: %(product)s, lot %(lot)s", product="{product}", lot="{lot}"),
        "checklist_incomplete": _("Tick every item of the three checks, seven matches and one verification first (%(done)s of %(total)s).",
                                  done="{done}", total="{total}"),
        "choose_lot": _("Choose the product and lot."),
        "choose_arm": _("Choose the arm."),
        "injected": _("%(ticket)s may leave at %(time)s", ticket="{ticket}", time="{time}"),
        "expired": _("expired"),
        # Observation and exit
        "leave_in": _("%(minutes)s min left", minutes="{minutes}"),
        "ok_to_leave": _("OK to leave"),
        "released": _("%(ticket)s released", ticket="{ticket}"),
        "early": _("Too early: %(minutes)s min %(seconds)s s of observation remain. A supervisor may release early with a reason.",
                   minutes="{minutes}", seconds="{seconds}"),
        "not_found_ticket": _("No one observing has the ticket %(ticket)s.", ticket="{ticket}"),
        "scan_first": _("Scan the slip, or type the ticket number."),
        "report_due": _("Report due %(time)s", time="{time}"),
        "report_overdue": _("Report overdue since %(time)s", time="{time}"),
        "aefi_recorded": _("Adverse event recorded: %(ticket)s is in the emergency area.", ticket="{ticket}"),
        "symptoms_needed": _("Name at least one symptom."),
        "extended": _("extended"),
        "release": _("Release"),
        "minor": _("minor"),
        "severe": _("severe"),
        "serious": _("serious"),
        "report_aefi": _("Adverse event"),
        "recovered": _("Recovered: back to observation"),
        "transferred": _("Transferred to hospital"),
    }


def display_both() -> dict[str, dict[str, Any]]:
    """For the waiting-area screen, in both languages (it may alternate between them)."""
    strings = {}
    for key, locale, label in (("zh", "zh_Hans", "zh"), ("en", "en", "en")):
        with force_locale(locale):
            strings[key] = {
                "now_calling": _("Now calling"),
                "waiting": _("Waiting"),
                "people": _("%(count)s waiting", count="{count}"),
                "wait": _("about %(minutes)s min", minutes="{minutes}"),
                "no_wait": _("no wait"),
                "observation": _("Observation"),
                "ok_to_leave": _("OK to leave"),
                "seats": _("%(used)s of %(seats)s seats", used="{used}", seats="{seats}"),
                "offline": _("Reconnecting…"),
                "call": _("%(ticket)s, please go to %(station)s %(desk)s", ticket="{ticket}",
                          station="{station}", desk="{desk}"),
                "desk": {"consent": _("consent desk"), "injection": _("injection booth")},
                "stations": {name: STATION_LABELS[name][label] for name in STATIONS},
                "idle": _("Please wait to be called. Have your ID and health code ready."),
                "page": _("page %(page)s/%(pages)s", page="{page}", pages="{pages}"),
                "emergency": _("Emergency"),
                "emergency_note": _("Medical staff are attending. Please keep the way clear."),
                "sound": _("Tap here to turn on sound"),
                # Nothing depends on the phone: staff call everyone, as on this screen.
                "phone": _("Scan the QR code on your slip to follow your turn on your phone: you can wait outside."),
            }
    return strings


def dashboard() -> dict[str, str]:
    """For the supervisor dashboard and the city overview (static/js/dashboard.js, city.js)."""
    return {
        "arrivals": _("Arrived early %(early)s · on time %(on_time)s · late %(late)s · missing %(missing)s",
                      early="{early}", on_time="{on_time}", late="{late}", missing="{missing}"),
        "overbooked": _("More bookings than the site takes in a slot"),
        "phone_share": _("%(followed)s of %(tickets)s people with a ticket opened it on a phone",
                         followed="{followed}", tickets="{tickets}"),
        "consent": _("Consent"), "injection": _("Injection"),
        "bottleneck": _("%(station)s is the bottleneck: %(desks)s desks at %(percent)s%% busy.",
                        station="{station}", desks="{desks}", percent="{percent}"),
        "open_one": _("Opening one more desk would cut the wait from about %(now)s to about %(then)s minutes "
                      "(an estimate, from the last 30 minutes).", now="{now}", then="{then}"),
        "all_open": _("All %(desks)s desks are open: move staff here from a quieter station.", desks="{desks}"),
        "growing": _("The queue is growing faster than it is served: open another desk now."),
        "no_bottleneck": _("No bottleneck: every station keeps up."),
        "minutes": _("%(n)s min", n="{n}"),
        "none": "—",
        "projection": _("Projected by closing time: %(n)s (%(percent)s%%)", n="{n}", percent="{percent}"),
        "of_target": _("%(doses)s of %(target)s doses (%(percent)s%%)", doses="{doses}", target="{target}",
                       percent="{percent}"),
        "seats": _("%(used)s of %(seats)s seats", used="{used}", seats="{seats}"),
        "peak": _("expected in 30 min: %(n)s", n="{n}"),
        "due": _("report due %(time)s", time="{time}"),
        "overdue": _("report overdue since %(time)s", time="{time}"),
        "resolved": _("resolved"),
        "alert_long_wait": _("%(station)s: someone has waited %(minutes)s minutes", station="{station}",
                             minutes="{minutes}"),
        "alert_observation_nearly_full": _("Observation %(count)s of %(capacity)s seats", count="{count}",
                                           capacity="{capacity}"),
        "alert_aefi_open": _("Adverse event without an outcome: %(ticket)s", ticket="{ticket}"),
        "alert_lot_expiring": _("Lot %(lot)s expires in %(days_left)s days", lot="{lot}", days_left="{days_left}"),
        "alert_lost": _("%(ticket)s checked in %(minutes)s minutes ago and not closed (%(state)s)",
                        ticket="{ticket}", minutes="{minutes}", state="{state}"),
        "no_alerts": _("No alerts."),
        "updated": _("Updated %(time)s", time="{time}"),
        "offline": _("Reconnecting…"),
    }
