"""Check-in by a booking's code, as the check-in tablet sends it: through its outbox, whose retry
of a lost answer carries the same Idempotency-Key and must get the first answer back."""
from __future__ import annotations

from tests.support.api import assert_error, checker, japi
from tests.support.factories import gen_resident_id

HEADER = "slot_start,name,document_type,document_number,phone,dose_number,group\n"


def _book(api, *rows: str) -> list[dict]:
    """Import today's (2026-11-24, the test clock's day) rows; the day's bookings, in import order."""
    answer = api.client.post("/api/v1/sites/demo/appointments", data=(HEADER + "".join(rows)).encode(),
                             headers={"Authorization": f"Bearer {api.token}"}, content_type="text/csv")
    assert answer.status_code == 201, answer.get_json()
    return api.get("/sites/demo/appointments").get_json()["appointments"]


def test_a_repeated_check_in_by_booking_is_replayed_not_refused_as_arrived(japi, tokens):
    checkin = tokens.station("checkin")
    [booking] = _book(japi.api, f"2026-11-24T09:00,张三明,resident_id,{gen_resident_id()},,2,街道\n")
    body = {"appointment_code": booking["code"].lower(), "health_code": "green", "priority": False}
    first = japi.post("/sites/demo/visits", body, token=checkin, key="booking-checkin-1")
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["visit"]["dose_number"] == 2
    again = japi.post("/sites/demo/visits", body, token=checkin, key="booking-checkin-1")
    assert again.status_code == 201, again.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["visit"]["id"] == first.get_json()["visit"]["id"]
    # A new request (another key) for the same booking is refused: it has arrived.
    assert_error(japi.post("/sites/demo/visits", body, token=checkin, key="booking-checkin-2"), 409,
                 "appointment_arrived", "appointment_code")
    [after] = japi.get("/sites/demo/appointments").get_json()["appointments"]
    assert (after["status"], after["visit_id"]) == ("arrived", first.get_json()["visit"]["id"])
    assert first.get_json()["appointment_code"] == booking["code"]
    assert "appointment_code" not in again.get_json()  # a repeat says no more than the phone code


def test_a_walk_in_by_document_says_which_booking_it_linked(japi, tokens):
    checkin = tokens.station("checkin")
    number = gen_resident_id()
    [booking] = _book(japi.api, f"2026-11-24T10:30,李四,resident_id,{number},,1,\n")
    walk_in = {"name": "李四", "document_type": "resident_id", "document_number": number, "dose_number": 1,
               "health_code": "green", "priority": False}
    answer = japi.post("/sites/demo/visits", walk_in, token=checkin)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["appointment_code"] == booking["code"]
    unbooked = japi.post("/sites/demo/visits", {**walk_in, "document_number": gen_resident_id()}, token=checkin)
    assert unbooked.status_code == 201 and "appointment_code" not in unbooked.get_json()


def test_the_confirmation_shows_when_to_come_and_the_code_and_nothing_personal(japi, client, tokens):
    number, phone = gen_resident_id(), "13655556666"
    [booking] = _book(japi.api, f"2026-11-24T14:30,慕容秘密,resident_id,{number},{phone},3,<b>第一街道</b>\n")
    path = f"/sites/demo/appointments/{booking['code'].lower()}/confirmation"

    def get(token: str, **params: str):
        return client.get(path, headers={"Authorization": f"Bearer {token}"}, query_string=params)

    page = get(tokens.station("checkin"), lang="en")
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text[:500]
    for shown in ("慕**密", "14:30–15:00", "Please come at 14:25", "Dose 3", booking["code"], "&lt;b&gt;第一街道",
                  "<svg", "slip-80.css"):
        assert shown in text, shown
    words = text[:text.index("<svg")] + text[text.index("</svg>"):]  # the QR's drawing may hold any digits
    for secret in ("慕容秘密", number, number[-4:], phone, phone[-4:]):
        assert secret not in words, secret
    assert "slip-a4.css" in get(tokens.supervisor, paper="a4").get_data(as_text=True)
    assert get(tokens.station("consent")).status_code == 403
    assert client.get("/sites/demo/appointments/QQQQQQQQ/confirmation",
                      headers={"Authorization": f"Bearer {tokens.supervisor}"}).status_code == 404
