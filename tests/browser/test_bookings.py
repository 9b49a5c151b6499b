"""Bookings at the check-in tablet (issue 18) in Debian's Chromium, against a real server: a
booking file imported through the API, then at the check-in desk a booking found by its typed
code, by the ID number, and by a confirmation's QR scanned into the ID number field; confirmed
and checked in, the booking `arrived` with its visit; refusals beside their fields; and the
booking's confirmation, which shows no document number or phone and whose QR code (read back from
a screenshot and from the page printed on an 80 mm roll) gives the code.

The same server and signed-in nurse as tests/browser/test_station_pages.py (its clock runs 6
times faster). Screenshots of the booking panel at 1280x800 in both languages, and of the
confirmation, go to tests/browser/__screenshots__/."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_station_pages import Tablet, nurse_ready, site
from tests.browser.test_tablet_layout import beside, in_reach
from tests.support.factories import gen_resident_id
from tests.support.live_servers import Api
from tests.support.printed import print_page, read_qr

SITE_TZ = ZoneInfo("Asia/Shanghai")  # sites/demo.toml
HEADER = "slot_start,name,document_type,document_number,phone,dose_number,group\n"
PHONE = "13912345678"


def _server_now(base: str) -> datetime:
    """The server's clock (it runs faster than the real one), from a page's data-server-now."""
    with httpx.Client() as client:
        page = client.get(f"{base}/login").text
    return datetime.fromisoformat(re.search(r'data-server-now="([^"]+)"', page).group(1)).astimezone(SITE_TZ)


def _book(process, api: Api, people: list[tuple[str, str, int, str]]) -> dict[str, dict]:
    """Book each (name, ID number, dose, group) into the slot of the server's current half hour
    today; their bookings by ID number."""
    now = _server_now(process.url)
    slot = now.replace(minute=now.minute - now.minute % 30, second=0, microsecond=0)
    rows = "".join(f"{slot:%Y-%m-%dT%H:%M},{name},resident_id,{number},{PHONE},{dose},{group}\n"
                   for name, number, dose, group in people)
    with httpx.Client() as client:
        answer = client.post(f"{process.url}/api/v1/sites/demo/appointments", content=(HEADER + rows).encode(),
                             headers={"Authorization": f"Bearer {api.token}", "Content-Type": "text/csv"})
    assert answer.status_code == 201 and answer.json()["imported"] == len(people), answer.text
    return _bookings(api)


def _bookings(api: Api) -> dict[str, dict]:
    listed = api.get("/sites/demo/appointments", limit="500")
    assert listed.ok, listed.json
    return {row["person"]["document_number"]: row for row in listed.json["appointments"]}


def _visit_id(api: Api, ticket: str) -> str:
    rows = api.get("/sites/demo/visits", state="waiting,called,serving").json["visits"]
    return next(row["id"] for row in rows if row["ticket"] == ticket)


def _check_in(page) -> str:
    """The booking panel's primary action: the ticket it gave."""
    in_reach(page, "#submit-booking")
    page.click("#submit-booking")
    expect(page.locator("#result-ticket")).to_have_text(re.compile(r"^A\d{3}$"))
    expect(page.locator("#booking-panel")).to_be_hidden()
    expect(page.locator("#submit")).to_be_visible()  # back to the walk-in form for the next person
    return page.locator("#result-ticket").inner_text()


def test_a_booking_found_by_its_code_or_the_id_number_is_confirmed_and_checked_in(nurse_ready, browser):
    process, api = nurse_ready
    by_code, by_id = gen_resident_id(), gen_resident_id()
    booked = _book(process, api, [("张三明", by_code, 2, "第一街道"), ("李四", by_id, 1, "")])

    # (a) Typed, as people read it out: lower case, with a dash. The person in full, to compare with the ID card.
    tablet = Tablet(browser, process.url, lang="en")
    page = tablet.open("checkin")
    code = booked[by_code]["code"]
    page.fill("#booking_code", f"{code[:4].lower()}-{code[4:].lower()}")
    page.keyboard.press("Enter")
    expect(page.locator("#booking-panel")).to_be_visible()
    expect(page.locator("#booking-title")).to_contain_text(code)
    expect(page.locator("#booking-name")).to_have_text("张三明")
    expect(page.locator("#booking-document")).to_have_text(f"Resident ID card {by_code}")
    expect(page.locator("#booking-dose")).to_have_text("Dose 2")
    expect(page.locator("#booking-group")).to_have_text("第一街道")
    start = booked[by_code]["slot_start"][11:]
    end = (datetime.strptime(start, "%H:%M") + timedelta(minutes=booked[by_code]["slot_minutes"])).strftime("%H:%M")
    expect(page.locator("#booking-slot")).to_have_text(f"{start}–{end}")
    expect(page.locator("#booking-when")).not_to_be_empty()
    expect(page.locator("#walkin-fields")).to_be_hidden()
    expect(page.locator("#submit")).to_be_hidden()
    assert page.locator("#booking-confirmation").get_attribute("href").startswith(
        f"/sites/demo/appointments/{code}/confirmation")
    page.screenshot(path=str(SCREENSHOTS / "booking-panel-1280x800-en.png"))
    ticket = _check_in(page)
    expect(page.locator("#message")).to_contain_text(f"booking {code} marked arrived")
    arrived = _bookings(api)[by_code]
    assert (arrived["status"], arrived["visit_id"]) == ("arrived", _visit_id(api, ticket))
    tablet.assert_clean()
    tablet.context.close()

    # (b) In Chinese: the ID number typed (or read from the card) into its field, then "find booking".
    tablet = Tablet(browser, process.url, lang="zh_Hans")
    page = tablet.open("checkin")
    page.locator("#document_number").press_sequentially(by_id)
    page.click("#booking-lookup")
    expect(page.locator("#booking-panel")).to_be_visible()
    expect(page.locator("#booking-document")).to_have_text(f"居民身份证 {by_id}")
    expect(page.locator("#booking-name")).to_have_text("李四")
    expect(page.locator("#booking-group")).to_have_count(0)  # no group: no line for it
    page.screenshot(path=str(SCREENSHOTS / "booking-panel-1280x800-zh.png"))
    page.set_viewport_size({"width": 800, "height": 1280})  # the tablet turned to portrait
    page.screenshot(path=str(SCREENSHOTS / "booking-panel-800x1280-zh.png"))
    ticket = _check_in(page)
    expect(page.locator("#document_number")).to_be_focused()
    arrived = _bookings(api)[by_id]
    assert (arrived["status"], arrived["visit_id"]) == ("arrived", _visit_id(api, ticket))
    tablet.assert_clean()
    tablet.context.close()


def test_a_scanned_code_opens_its_booking_and_a_wrong_or_used_one_is_refused_beside_its_field(nurse_ready, browser):
    process, api = nurse_ready
    scanned, used, cancelled, walked = (gen_resident_id() for _ in range(4))
    booked = _book(process, api, [("王五", scanned, 1, "厂"), ("赵六", used, 1, "厂"), ("钱七", cancelled, 1, "厂"),
                                  ("孙八", walked, 1, "厂")])
    assert api.post("/sites/demo/visits", {"appointment_code": booked[used]["code"], "health_code": "green"}).ok
    assert api.post(f"/sites/demo/appointments/{booked[cancelled]['code']}/cancel").ok
    tablet = Tablet(browser, process.url, lang="en")
    page = tablet.open("checkin")

    # A confirmation's QR read by the scanner while the cursor is in the ID number (an address ending with the code).
    expect(page.locator("#document_number")).to_be_focused()
    page.keyboard.type(f"https://siteflow.example/b/{booked[scanned]['code']}")
    page.keyboard.press("Enter")
    expect(page.locator("#booking-name")).to_have_text("王五")
    expect(page.locator("#document_number")).to_have_value("")
    page.click("#booking-cancel")  # not this one: back to the walk-in form
    expect(page.locator("#booking-panel")).to_be_hidden()
    expect(page.locator("#walkin-fields")).to_be_visible()
    expect(page.locator("#submit")).to_be_visible()

    # (c) An unknown code, a booking already used, a cancelled one: said beside the code, nothing opened.
    for typed, reason in (("ZZZZ2222", "No booking with the code ZZZZ2222 at this site."),
                          (booked[used]["code"], f"Booking {booked[used]['code']} (赵六) has already checked in."),
                          (booked[cancelled]["code"], "was cancelled")):
        page.fill("#booking_code", typed)
        page.keyboard.press("Enter")
        beside(page, "#booking_code", "#booking_code-error", reason)
        expect(page.locator("#booking-panel")).to_be_hidden()
    page.screenshot(path=str(SCREENSHOTS / "booking-refused-1280x800-en.png"))
    # An ID number without a booking today: said under the number.
    page.fill("#booking_code", "")
    page.locator("#document_number").press_sequentially(gen_resident_id())
    page.click("#booking-lookup")
    beside(page, "#document_number", "#document_hint", "No booking today for this ID number.")

    # Checked in as a walk-in, by the form, someone booked today: the booking is found by the number and said so.
    page.fill("#document_number", "")
    page.locator("#document_number").press_sequentially(walked)
    page.keyboard.press("Enter")
    page.keyboard.type("孙八")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text(f"booking {booked[walked]['code']} marked arrived")
    assert _bookings(api)[walked]["status"] == "arrived"
    tablet.assert_clean()
    tablet.context.close()


def test_the_confirmation_shows_when_to_come_and_a_qr_of_the_code_and_nothing_personal(nurse_ready, browser):
    process, api = nurse_ready
    number = gen_resident_id()
    booking = _book(process, api, [("欧阳小明", number, 3, "第二街道")])[number]
    tablet = Tablet(browser, process.url, lang="en")
    page = tablet.open("checkin")
    page.fill("#booking_code", booking["code"])
    page.keyboard.press("Enter")
    with tablet.context.expect_page() as opened:
        page.click("#booking-confirmation")  # from the booking panel, in a new tab
    slip = opened.value
    slip.wait_for_load_state()
    text = slip.locator("article").inner_text()
    come = (datetime.strptime(booking["slot_start"][11:], "%H:%M") - timedelta(minutes=5)).strftime("%H:%M")
    for shown in ("欧**明", "第二街道", "Dose 3", f"Please come at {come}", booking["code"], "Booking confirmation"):
        assert shown in text, shown
    html = slip.content()
    for secret in ("欧阳小明", number, number[-4:], PHONE, PHONE[-4:]):
        assert secret not in text and secret not in html.replace(slip.locator("svg").inner_html(), ""), secret
    shot = Image.open(io.BytesIO(slip.screenshot(full_page=True))).convert("L")
    shot.save(SCREENSHOTS / "booking-confirmation-80mm-en.png")
    assert _qr_text(shot) == booking["code"]

    # Printed on an 80 mm roll: one piece of paper, and the QR code a thermal printer makes still reads.
    _, _, printed = print_page(slip, "80")
    printed = printed.point(lambda value: 255 if value >= 128 else 0)
    code, _ = read_qr(printed)
    assert code.text == booking["code"] and code.ec_level in ("M", "Q", "H")
    assert code.format == zxingcpp.BarcodeFormat.QRCode  # not a Micro QR code, which many scanners cannot read
    slip.goto(slip.url.split("?")[0] + "?paper=a4&lang=zh_Hans")
    expect(slip.locator("article")).to_contain_text("预约确认单")
    slip.screenshot(path=str(SCREENSHOTS / "booking-confirmation-a4-zh.png"), full_page=True)
    tablet.assert_clean()
    tablet.context.close()


def _qr_text(image: Image.Image) -> str:
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(codes) == 1, f"{len(codes)} QR codes read"
    return codes[0].text
