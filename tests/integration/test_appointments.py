"""Bookings: the file contract (CSV and XLSX, all or nothing, line numbers), the CLI, the REST
list, lookup, cancel and rebook, check-in by booking and by document, the summary and no-shows."""
from __future__ import annotations

import hashlib
import io
import json
import re
from urllib.parse import parse_qsl

from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import select

from app.cli import cli
from app.store.tables import appointments as appointments_table
from app.store.tables import audit_log
from tests.support.api import act, assert_error, call_next
from tests.support.factories import gen_consent, gen_resident_id

HEADER = "slot_start,name,document_type,document_number,phone,dose_number,group"
DAY = "2026-11-24"  # the test clock's day at the demo site (09:00 in Shanghai)


def booking_file(*rows: str) -> bytes:
    return ("\n".join((HEADER, *rows)) + "\n").encode()


def row(slot: str = "10:00", name: str = "张三", number: str | None = None, *, phone: str = "13800138000",
        dose: str = "1", group: str = "Riverside Community", day: str = DAY, kind: str = "resident_id") -> str:
    return f"{day}T{slot},{name},{kind},{number or gen_resident_id()},{phone},{dose},{group}"


def upload(japi, content: bytes, *, content_type: str = "text/csv", token: str | None = None, **query):
    """POST a booking file as the body; the answer is checked against the OpenAPI document."""
    headers = {**japi.api._headers(token, None), "Content-Type": content_type}
    return japi.request("POST", "/sites/demo/appointments", data=content, headers=headers, query_string=query)


def imported(japi, *rows: str) -> list[dict]:
    answer = upload(japi, booking_file(*rows))
    assert answer.status_code == 201, answer.get_json()
    return japi.get("/sites/demo/appointments", date=DAY).get_json()["appointments"]


def test_a_good_file_is_imported_and_listed_with_codes_and_statuses(japi, tokens, services):
    content = booking_file(row("09:00", "张三"), row("09:30", "李四", group=""), row("10:00", "王五", kind="passport",
                                                                                   number="E12345678", phone=""))
    answer = upload(japi, content)
    assert answer.status_code == 201
    assert answer.get_json() == {"imported": 3, "invalid": [], "sha256": hashlib.sha256(content).hexdigest(),
                                 "overbooked": []}
    listed = japi.get("/sites/demo/appointments", date=DAY).get_json()
    assert listed["next"] is None
    assert [(item["slot_start"], item["status"], item["group"]) for item in listed["appointments"]] == [
        (f"{DAY}T09:00", "booked", "Riverside Community"), (f"{DAY}T09:30", "booked", ""),
        (f"{DAY}T10:00", "booked", "Riverside Community")]
    codes = [item["code"] for item in listed["appointments"]]
    assert len(set(codes)) == 3 and all(len(code) == 8 for code in codes)
    # A station sees the people masked, as on tablets.
    masked = japi.get("/sites/demo/appointments", date=DAY, token=tokens.station("checkin")).get_json()
    person = masked["appointments"][0]["person"]
    assert person["name"] == "张*" and "document_number" not in person and len(person["document_last4"]) == 4
    # The person is sealed at rest; the import is audited with its row count and hash.
    with services.store.engine.connect() as conn:
        stored = json.dumps([dict(item._mapping) for item in conn.execute(select(appointments_table))], default=str)
        audited = conn.execute(select(audit_log).where(audit_log.c.action == "appointments.imported")).one()
    assert "张三" not in stored and "13800138000" not in stored
    assert audited.detail == {"rows": 3, "invalid": 0, "sha256": hashlib.sha256(content).hexdigest()}


def test_any_bad_row_refuses_the_whole_file_with_line_numbers(japi):
    twice = gen_resident_id()
    content = booking_file(
        row("09:00", number=twice),
        row("09:30", number="110101199001011234"),  # wrong check digit
        row("25:00"),  # no such time
        row("10:00", day="2026-11-23"),  # yesterday
        row("10:00", name=""),
        row("10:00", name="A\u202eB"),  # against the name policy
        row("11:00", number=twice),  # the same person twice
        row("11:00", dose="5"),
    )
    answer = upload(japi, content)
    error = assert_error(answer, 400, "invalid_booking_file")
    assert list(error["fields"]) == [f"line {n}" for n in (3, 4, 5, 6, 7, 8, 9)]
    assert "checksum" in error["fields"]["line 3"] and "already past" in error["fields"]["line 5"]
    assert "twice" in error["fields"]["line 8"] and "line 2" in error["fields"]["line 8"]
    assert japi.get("/sites/demo/appointments", date=DAY).get_json()["appointments"] == []  # nothing imported
    skipped = upload(japi, content, skip_invalid="true")
    assert skipped.status_code == 201 and skipped.get_json()["imported"] == 1
    assert [problem["line"] for problem in skipped.get_json()["invalid"]] == [3, 4, 5, 6, 7, 8, 9]


def test_a_wrong_header_or_encoding_is_refused(japi):
    error = assert_error(upload(japi, b"slot,name\n2026-11-24T10:00,x\n"), 400, "invalid_booking_file")
    assert "header" in error["fields"]["line 1"]
    latin = booking_file(row()).replace("张三".encode(), "Jos\xe9".encode("latin-1"))
    assert "UTF-8" in assert_error(upload(japi, latin), 400, "invalid_booking_file")["fields"]["line 2"]
    assert_error(upload(japi, b""), 422, field="file")


def test_an_xlsx_file_follows_the_same_rules(japi):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append([f"{DAY}T10:00", "赵六", "resident_id", gen_resident_id(), "13900000000", 2, "Works Unit A"])
    sheet.append([f"{DAY}T10:30", "钱七", "resident_id", gen_resident_id(), None, 1, None])
    out = io.BytesIO()
    book.save(out)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    answer = upload(japi, out.getvalue(), content_type=xlsx)
    assert answer.status_code == 201 and answer.get_json()["imported"] == 2
    listed = japi.get("/sites/demo/appointments", date=DAY).get_json()["appointments"]
    assert [(item["dose_number"], item["group"]) for item in listed] == [(2, "Works Unit A"), (1, "")]


def test_the_cli_imports_all_or_nothing_and_names_each_bad_line(day_app, tmp_path, monkeypatch):
    """On SQLite (the command's own app is never disposed: a PostgreSQL connection would outlive it)."""
    services = day_app.extensions["siteflow"]
    monkeypatch.setenv("DATABASE_URL", day_app.config["DATABASE_URL"])
    # The command line runs on the real clock: a day far ahead.
    good = tmp_path / "good.csv"
    good.write_bytes(booking_file(row("09:00", day="2099-01-02"), row("09:30", day="2099-01-02")))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(booking_file(row("10:00", day="2099-01-02"),
                                 row("10:30", number="110101199001011234", day="2099-01-02")))
    runner = CliRunner()
    refused = runner.invoke(cli, ["appointments", "import", "demo", str(bad)])
    assert refused.exit_code != 0
    assert "line 3: document: checksum does not match" in refused.output and "nothing was imported" in refused.output
    assert services.store.appointments.count("demo") == 0
    done = runner.invoke(cli, ["appointments", "import", "demo", str(good)])
    assert done.exit_code == 0 and "imported 2 booking(s)" in done.output, done.output
    skipped = runner.invoke(cli, ["appointments", "import", "demo", str(bad), "--skip-invalid"])
    assert skipped.exit_code == 0 and "skipped 1 invalid row(s)" in skipped.output
    assert services.store.appointments.count("demo") == 3


def test_check_in_by_booking_code_takes_the_person_from_the_booking(japi, tokens):
    number = gen_resident_id()
    [booking] = imported(japi, row("09:00", "孙八", number, dose="2"))
    desk = tokens.station("checkin")
    found = japi.post("/sites/demo/appointments/lookup", {"code": booking["code"].lower()[:4] + "-" +
                                                          booking["code"].lower()[4:]}, token=desk).get_json()
    assert found["appointment"]["person"]["document_number"] == number  # in full, for the desk to confirm
    visit = japi.post("/sites/demo/visits", {"appointment_code": booking["code"], "health_code": "green"},
                      token=desk)
    assert visit.status_code == 201, visit.get_json()
    body = visit.get_json()["visit"]
    assert body["dose_number"] == 2 and body["person"]["name"] == "孙*" and body["ticket"]
    after = japi.get("/sites/demo/appointments", date=DAY).get_json()["appointments"][0]
    assert (after["status"], after["visit_id"]) == ("arrived", body["id"])
    again = japi.post("/sites/demo/visits", {"appointment_code": booking["code"], "health_code": "green"}, token=desk)
    assert_error(again, 409, "appointment_arrived")
    typed = japi.post("/sites/demo/visits", {"appointment_code": booking["code"], "health_code": "green",
                                              "name": "孙八"}, token=desk)
    assert_error(typed, 422, field="name")
    assert_error(japi.post("/sites/demo/visits", {"appointment_code": "ZZZZ2222", "health_code": "green"},
                           token=desk), 404, "unknown_appointment")


def test_a_walk_in_check_in_by_document_links_todays_booking(japi):
    number = gen_resident_id()
    imported(japi, row("15:00", "周九", number))
    walk_in = japi.post("/sites/demo/visits", {"name": "周九", "document_type": "resident_id", "document_number": number,
                                               "dose_number": 1, "health_code": "green"})
    assert walk_in.status_code == 201
    found = japi.post("/sites/demo/appointments/lookup", {"document_type": "resident_id", "document_number": number})
    assert found.get_json()["appointment"]["status"] == "arrived"
    # Someone with no booking is a walk-in as before.
    assert japi.post("/sites/demo/visits", {"name": "吴十", "document_type": "resident_id",
                                            "document_number": gen_resident_id(), "dose_number": 1,
                                            "health_code": "green"}).status_code == 201
    assert_error(japi.post("/sites/demo/visits", {"health_code": "green"}), 422, field="name")


def test_cancel_and_rebook(japi, tokens):
    [booking] = imported(japi, row("09:00"))
    code = booking["code"]
    cancelled = japi.post(f"/sites/demo/appointments/{code}/cancel", {})
    assert cancelled.get_json()["appointment"]["status"] == "cancelled"
    assert_error(japi.post("/sites/demo/visits", {"appointment_code": code, "health_code": "green"}), 409,
                 "appointment_cancelled")
    rebooked = japi.post(f"/sites/demo/appointments/{code}/rebook", {"slot_start": "2026-11-25T14:00"})
    assert rebooked.get_json()["appointment"] | {"person": None} == rebooked.get_json()["appointment"] | {
        "slot_start": "2026-11-25T14:00", "status": "booked", "person": None}
    assert japi.get("/sites/demo/appointments", date="2026-11-25").get_json()["appointments"][0]["code"] == code
    assert_error(japi.post(f"/sites/demo/appointments/{code}/rebook", {"slot_start": "2026-11-20T14:00"}), 422,
                 field="slot_start")
    assert_error(japi.post(f"/sites/demo/appointments/{code}/cancel", {}, token=tokens.station("consent")), 403)


def test_the_summary_counts_slots_and_groups_and_no_shows_after_the_grace(japi, clock):
    came = gen_resident_id()
    imported(japi, row("09:00", number=came, group="Unit A"), row("09:00", group="Unit A"),
             row("09:30", group="Unit B"), row("14:00", group="Unit B"))
    assert japi.post("/sites/demo/visits", {"name": "张三", "document_type": "resident_id", "document_number": came,
                                            "dose_number": 1, "health_code": "green"}).status_code == 201
    summary = japi.get("/sites/demo/appointments/summary", date=DAY).get_json()
    # The demo site takes in 24 people a 30-minute slot: 2 consent desks at 2 minutes, at 80 % (the planner).
    assert summary["slot_capacity"] == 24
    assert summary["slots"] == [{"slot_start": f"{DAY}T09:00", "booked": 2, "arrived": 1, "capacity": 24},
                                {"slot_start": f"{DAY}T09:30", "booked": 1, "arrived": 0, "capacity": 24},
                                {"slot_start": f"{DAY}T14:00", "booked": 1, "arrived": 0, "capacity": 24}]
    assert [group["no_show"] for group in summary["groups"]] == [0, 0]  # 09:00 + 30 min + 60 min is not past yet
    clock.advance(minutes=91)  # 10:31: the 09:00 slot ended 61 minutes ago; 09:30's ended 31 minutes ago
    later = japi.get("/sites/demo/appointments/summary", date=DAY).get_json()
    assert later["arrivals"] == {"early": 0, "on_time": 1, "late": 0, "missing": 1}
    groups = {group["group"]: group for group in later["groups"]}
    assert groups == {"Unit A": {"group": "Unit A", "booked": 2, "arrived": 1, "no_show": 1},
                      "Unit B": {"group": "Unit B", "booked": 2, "arrived": 0, "no_show": 0}}
    missing = japi.get("/sites/demo/appointments", date=DAY, status="no_show").get_json()["appointments"]
    assert [(item["slot_start"], item["status"]) for item in missing] == [(f"{DAY}T09:00", "no_show")]
    clock.advance(minutes=30)
    assert len(japi.get("/sites/demo/appointments", date=DAY, status="no_show").get_json()["appointments"]) == 2
    assert len(japi.get("/sites/demo/appointments", date=DAY, status="booked").get_json()["appointments"]) == 1


def test_a_late_arrival_still_checks_in_by_code(japi, clock):
    [booking] = imported(japi, row("09:00"))
    clock.advance(hours=3)
    assert japi.get("/sites/demo/appointments", date=DAY).get_json()["appointments"][0]["status"] == "no_show"
    visit = japi.post("/sites/demo/visits", {"appointment_code": booking["code"], "health_code": "green"})
    assert visit.status_code == 201
    assert japi.get("/sites/demo/appointments", date=DAY).get_json()["appointments"][0]["status"] == "arrived"
    assert japi.get("/sites/demo/appointments/summary", date=DAY).get_json()["arrivals"]["late"] == 1
    dashboard = japi.get("/sites/demo/dashboard").get_json()["bookings"]
    assert dashboard["slots"] == [{"slot_start": f"{DAY}T09:00", "booked": 1, "arrived": 1, "capacity": 24}]


def test_the_list_pages_and_only_those_who_may_read_it_do(japi, tokens):
    imported(japi, *(row(f"{9 + n // 2:02d}:{30 * (n % 2):02d}") for n in range(5)))
    def follow(link: str) -> dict:
        path, _, query = link.removeprefix("/api/v1").partition("?")
        return japi.get(path, **dict(parse_qsl(query))).get_json()

    first = japi.get("/sites/demo/appointments", date=DAY, limit="2").get_json()
    second = follow(first["next"])
    third = follow(second["next"])
    codes = [item["code"] for page in (first, second, third) for item in page["appointments"]]
    assert len(codes) == len(set(codes)) == 5 and third["next"] is None
    assert_error(japi.get("/sites/demo/appointments", token=tokens.display), 403)
    assert_error(japi.get("/sites/demo/appointments", token=tokens.station("consent")), 403)
    assert_error(upload(japi, booking_file(row()), token=tokens.station("checkin")), 403)


def test_a_booked_person_goes_through_the_flow_like_anyone(japi):
    [booking] = imported(japi, row("09:00"))
    visit = japi.post("/sites/demo/visits", {"appointment_code": booking["code"], "health_code": "green"}).get_json()
    assert call_next(japi, "consent", "A")["id"] == visit["visit"]["id"]
    assert act(japi, visit["visit"]["id"], "consent", gen_consent("A")).get_json()["visit"]["station"] == "injection"



def test_the_daily_report_lists_who_was_booked_and_did_not_come_per_group(japi, clock, tokens):
    from openpyxl import load_workbook

    came = gen_resident_id()
    imported(japi, row("09:00", "张三", came, group="Unit A"), row("09:00", "李四", group="Unit A"),
             row("09:30", "王五", group="Unit B"))
    japi.post("/sites/demo/visits", {"name": "张三", "document_type": "resident_id", "document_number": came,
                                     "dose_number": 1, "health_code": "green"})
    clock.advance(hours=5)
    report = japi.get("/sites/demo/reports/daily", date=DAY).get_json()
    assert report["bookings"]["groups"] == [{"group": "Unit A", "booked": 2, "arrived": 1, "no_show": 1},
                                            {"group": "Unit B", "booked": 1, "arrived": 0, "no_show": 1}]
    assert [item["person"]["name"] for item in report["bookings"]["not_arrived"]] == ["李四", "王五"]
    xlsx = japi.get("/sites/demo/reports/daily", date=DAY, format="xlsx", check=False)
    book = load_workbook(io.BytesIO(xlsx.data))
    sheet = [list(line) for line in book["Booked, did not come"].iter_rows(values_only=True)]
    assert sheet[0] == ["group", "slot_start", "code", "name", "phone", "document"]
    assert [(line[0], line[3]) for line in sheet[1:]] == [("Unit A", "李四"), ("Unit B", "王五")]


def test_an_import_warns_of_slots_booked_beyond_the_sites_capacity(japi):
    answer = upload(japi, booking_file(*(row("10:00") for _ in range(25)), *(row("10:30") for _ in range(24))))
    assert answer.status_code == 201  # a warning, not a refusal: the site may open more desks
    assert answer.get_json()["overbooked"] == [{"slot_start": f"{DAY}T10:00", "booked": 25, "capacity": 24}]


def test_a_booking_of_another_day_is_not_checked_in_by_its_code_and_a_scanned_link_finds_it(japi):
    assert upload(japi, booking_file(row("09:00", day="2026-11-25"))).status_code == 201
    [booking] = japi.get("/sites/demo/appointments", date="2026-11-25").get_json()["appointments"]
    refused = assert_error(japi.post("/sites/demo/visits", {"appointment_code": booking["code"],
                                                            "health_code": "green"}), 409, "appointment_other_day")
    assert refused["fields"]["day"] == "2026-11-25"
    found = japi.post("/sites/demo/appointments/lookup", {"code": f"https://vax.example.org/b/{booking['code']}"})
    assert found.get_json()["appointment"]["code"] == booking["code"]
    assert_error(japi.post("/sites/demo/appointments/lookup", {"code": "ZZZZ2222"}), 404, "unknown_appointment",
                 "code")


def test_the_city_report_ranks_sites_and_groups_by_bookings(japi, clock, tokens):
    came = gen_resident_id()
    imported(japi, row("09:00", number=came, group="Unit A"), row("09:00", group="Unit A"), row("09:30", group="Unit B"))
    japi.post("/sites/demo/visits", {"name": "张三", "document_type": "resident_id", "document_number": came,
                                     "dose_number": 1, "health_code": "green"})
    clock.advance(hours=3)
    report = japi.get("/reports/city/daily").get_json()
    [demo] = [site for site in report["sites"] if site["site"] == "demo"]
    assert (demo["booked"], demo["arrived"], demo["no_show"]) == (3, 1, 2)
    assert report["groups"] == [
        {"site": "demo", "group": "Unit A", "booked": 2, "arrived": 1, "no_show": 1},
        {"site": "demo", "group": "Unit B", "booked": 1, "arrived": 0, "no_show": 1}]
    csv_file = japi.get("/reports/city/daily", format="csv", check=False).get_data(as_text=True)
    assert csv_file.splitlines()[0].endswith(",booked,arrived,no_show")


def test_the_bookings_page_lists_the_day_the_no_shows_and_cancels_and_rebooks(client, japi, clock, tokens):
    came = gen_resident_id()
    imported(japi, row("09:00", "张三", came, group="Unit A"), row("09:00", "李四", group="Unit A"),
             row("14:00", "王五", group="Unit B"))
    japi.post("/sites/demo/visits", {"name": "张三", "document_type": "resident_id", "document_number": came,
                                     "dose_number": 1, "health_code": "green"})
    clock.advance(hours=3)
    desk = {"Authorization": f"Bearer {tokens.station('checkin')}"}
    page = client.get(f"/sites/demo/appointments?date={DAY}&lang=en", headers=desk)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Unit A" in text and "did not come" in text and "arrived" in text
    assert "李*" in text and "李四" not in text  # the desk sees names masked, as on tablets
    missing = client.get(f"/sites/demo/appointments?date={DAY}&status=no_show&lang=en", headers=desk)
    [code] = re.findall(r'data-code="(\w+)"', missing.get_data(as_text=True))
    back = f"/sites/demo/appointments?date={DAY}&status=no_show"
    assert client.post(f"/sites/demo/appointments/{code}/rebook", data={"slot_start": f"{DAY}T15:00", "back": back},
                       headers=desk).status_code == 302
    later = japi.get("/sites/demo/appointments", date=DAY, status="booked").get_json()["appointments"]
    assert {(item["code"], item["slot_start"]) for item in later} >= {(code, f"{DAY}T15:00")}
    assert client.post(f"/sites/demo/appointments/{code}/cancel", data={"back": back}, headers=desk).status_code == 302
    assert japi.post("/sites/demo/appointments/lookup", {"code": code}).get_json()["appointment"]["status"] == "cancelled"
    consent = {"Authorization": f"Bearer {tokens.station('consent')}"}
    assert client.get(f"/sites/demo/appointments?date={DAY}", headers=consent).status_code == 403
