"""The station pages on the tablets' screens (1280×800 landscape, 800×1280 portrait), in Chinese
and English, in Debian's Chromium against a real server (issue 16):

- the step's main button is in the action bar: inside the viewport without scrolling, at least
  48 px, and nothing lies over it (document.elementFromPoint at its centre and near its corners);
- a form sent with mistakes marks the fields, writes each reason right beside its field, and
  scrolls the first into view and focuses it; unanswered screening questions are marked;
- the Undo offer covers neither the main button nor the page's content;
- a greyed "Call next" shows why; the product and lot lists do not overlap;
- two tabs at two stations both keep working; a permission error is in the page's language with
  the way back.

Screenshots go to tests/browser/__screenshots__/ (not in git)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

# The same kind of server and signed-in tablet as there (the fixtures run once per module).
from tests.browser.test_station_pages import NURSE_PASSWORD, Tablet, nurse_ready, site
from tests.support.factories import gen_checkin, gen_consent
from tests.support.live_servers import Api, run_cli

SIZES = {"landscape": (1280, 800), "portrait": (800, 1280)}

# The box of an element, whether it is on screen, and what is on top at its centre and near its corners.
REACH = """(selector) => {
  const node = document.querySelector(selector);
  const box = node.getBoundingClientRect();
  const d = Math.min(6, box.width / 4, box.height / 4);
  const points = [[box.left + box.width / 2, box.top + box.height / 2], [box.left + d, box.top + d],
    [box.right - d, box.top + d], [box.left + d, box.bottom - d], [box.right - d, box.bottom - d]];
  const covered = points.map(([x, y]) => document.elementFromPoint(x, y)).filter((hit) => !hit || !node.contains(hit))
    .map((hit) => (hit ? `${hit.tagName}#${hit.id}.${hit.className}` : "nothing"));
  return { left: box.left, top: box.top, right: box.right, bottom: box.bottom, width: box.width, height: box.height,
    width_px: innerWidth, height_px: innerHeight, scrolled: scrollY,
    page_taller: document.documentElement.scrollHeight > innerHeight, covered, visible: node.checkVisibility() };
}"""

# Where a field's reason is, relative to the field; whether both are in the visible part of the
# page (the scrolling content, or the action bar) and the focus is in the field.
BESIDE = """([fieldSelector, errorSelector]) => {
  const field = document.querySelector(fieldSelector);
  const error = document.querySelector(errorSelector);
  const region = (field.closest(".station-body") || document.documentElement).getBoundingClientRect();
  const [top, bottom] = [Math.max(region.top, 0) - 1, Math.min(region.bottom, innerHeight) + 1];
  const inside = (box) => box.top >= top && box.bottom <= bottom;
  const f = field.getBoundingClientRect();
  const e = error.getBoundingClientRect();
  const focused = document.activeElement;
  return { gap: Math.max(e.top - f.bottom, f.top - e.bottom, 0),
    overlapX: Math.min(f.right, e.right) - Math.max(f.left, e.left), error_seen: error.checkVisibility() && inside(e),
    focused: field.contains(focused), focus_seen: inside(focused.getBoundingClientRect()) };
}"""

# What the Undo offer's box meets (the main button, the scrolling content, the station's header),
# and how big its button is.
TOAST = """(primary) => {
  const box = (selector) => document.querySelector(selector).getBoundingClientRect();
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const toast = box("#toast");
  return { visible: document.getElementById("toast").checkVisibility(), primary: meets(toast, box(primary)),
    content: meets(toast, box(".station-body")), header: meets(toast, box(".station-bar")),
    undo_size: Math.min(box("#undo").width, box("#undo").height) };
}"""


def in_reach(page, selector: str) -> None:
    """The main button: on screen without scrolling, big enough for a gloved finger, covered by nothing."""
    found = page.evaluate(REACH, selector)
    assert found["visible"], f"{selector} is not shown"
    assert found["scrolled"] == 0 and not found["page_taller"], "the page itself scrolls"
    assert found["left"] >= 0 and found["right"] <= found["width_px"], found
    assert found["top"] >= 0 and found["bottom"] <= found["height_px"], f"{selector} is below the fold: {found}"
    assert found["width"] >= 48 and found["height"] >= 48, found
    assert found["covered"] == [], f"{selector} is covered by {found['covered']}"


def beside(page, field: str, error: str, text: str | re.Pattern) -> None:
    """A reason right beside its field (within 16 px, in line with it), both in view, the focus in the field."""
    expect(page.locator(error)).to_contain_text(text)
    found = page.evaluate(BESIDE, [field, error])
    assert found["gap"] <= 16 and found["overlapX"] > 0, f"{error} is not beside {field}: {found}"
    assert found["error_seen"], f"{error} is not in view: {found}"
    assert found["focused"] and found["focus_seen"], f"the focus is not in {field}, in view: {found}"


def toast_covers_nothing(page, primary: str) -> None:
    expect(page.locator("#toast")).to_be_visible()
    found = page.evaluate(TOAST, primary)
    assert found["undo_size"] >= 48, found
    del found["undo_size"]
    assert found == {"visible": True, "primary": False, "content": False, "header": False}, found


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _close_open_visits(api: Api) -> None:
    """Nobody is left in a queue or at a desk by an earlier test."""
    for row in api.get("/sites/demo/visits", state="waiting,called,serving").json["visits"]:
        api.post(f"/sites/demo/visits/{row['id']}/cancel", {"reason": "test clean-up"})


def _at_injection(api: Api) -> dict:
    visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent(desk="B"))
    return visit


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_main_button_is_in_reach_and_mistakes_are_shown_beside_their_fields(nurse_ready, browser, lang, size):
    process, api = nurse_ready
    _close_open_visits(api)
    tablet = Tablet(browser, process.url, viewport=SIZES[size], lang=lang)
    words = {
        "nobody": "没有人在等候", "desk": "请先选择", "unanswered": "未回答", "id": "证件号码", "name": "姓名",
        "scan": "扫描",
    } if lang == "zh_Hans" else {
        "nobody": "Nobody is waiting", "desk": "desk first", "unanswered": "Not answered", "id": "ID number",
        "name": "full name", "scan": "Scan the slip",
    }
    suffix = f"{SIZES[size][0]}x{SIZES[size][1]}-{'zh' if lang == 'zh_Hans' else 'en'}"

    # Check-in: sent empty, the ID number's reason is right under it and the cursor is in it.
    page = tablet.open("checkin")
    in_reach(page, "#submit")
    page.click("#submit")
    beside(page, "#document_number", "#document_hint", words["id"])
    expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#name-error")).to_contain_text(words["name"])
    in_reach(page, "#submit")
    shot(page, f"checkin-{suffix}")

    # Consent: "Call next" greyed says why (no desk yet, then nobody waiting), and is pressed once someone is.
    page = tablet.open("consent")
    expect(page.locator("#call-next")).to_be_disabled()
    expect(page.locator("#call-blocked")).to_contain_text(words["desk"])
    page.select_option("#desk", "A")
    expect(page.locator("#call-blocked")).to_contain_text(words["nobody"])
    expect(page.locator("#call-next")).to_be_disabled()
    expect(page.locator("#call-blocked")).to_be_visible()  # on the button itself
    in_reach(page, "#call-next")
    person = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    expect(page.locator("#call-next")).to_be_enabled()
    expect(page.locator("#call-blocked")).to_be_hidden()
    in_reach(page, "#call-next")
    page.click("#call-next")
    expect(page.locator("#current-ticket")).to_have_text(person["ticket"])
    in_reach(page, "#eligible")
    toast_covers_nothing(page, "#eligible")
    # Two questions answered, the other four are marked; the first of them is in view with the cursor.
    questions = page.locator(".question[id^=question-]")
    for index in (0, 1):
        questions.nth(index).locator("input[value=no]").check()
    page.click("#eligible")
    marked = page.locator(".question.invalid")
    expect(marked).to_have_count(questions.count() - 2)
    for index in range(questions.count()):
        question = questions.nth(index)
        wanted = "true" if index >= 2 else None
        assert question.locator("input").first.get_attribute("aria-invalid") == wanted, index
    third = questions.nth(2).get_attribute("id")
    beside(page, f"#{third} .yesno", f"#{third}-error", words["unanswered"])
    expect(page.locator("#signature")).to_have_attribute("aria-invalid", "true")
    in_reach(page, "#eligible")
    shot(page, f"consent-{suffix}")
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})

    # Injection: the product and lot lists side by side without overlapping; confirm with nothing
    # ticked marks the checklist, the reason above it, the cursor on the first box.
    person = _at_injection(api)
    page = tablet.open("injection", desk="4")
    page.click("#call-next")
    expect(page.locator("#current-ticket")).to_have_text(person["ticket"])
    in_reach(page, "#confirm")
    toast_covers_nothing(page, "#confirm")
    page.click("#confirm")
    beside(page, "#checklist", "#checklist-error", "11")
    expect(page.locator("#checklist input").first).to_be_focused()
    expect(page.locator(".check.invalid")).to_have_count(11)
    expect(page.locator("#product")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#arm")).to_have_attribute("aria-invalid", "true")
    shot(page, f"injection-{suffix}")
    page.select_option("#product", "coronavac")  # the longest name
    expect(page.locator("#product")).not_to_have_attribute("aria-invalid", "true")
    product, lot = page.locator("#product").bounding_box(), page.locator("#lot").bounding_box()
    apart = product["x"] + product["width"] <= lot["x"] or product["y"] + product["height"] <= lot["y"]
    assert apart, f"the product list overlaps the lot list: {product} {lot}"
    in_reach(page, "#confirm")
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})

    # Observation and exit: Release (of the slip scanned or the ticket typed) in the bar.
    for station in ("observation", "exit"):
        page = tablet.open(station)
        in_reach(page, "#release-scan")
        page.click("#release-scan")
        beside(page, "#scan", "#scan-error", words["scan"])
        in_reach(page, "#release-scan")
    shot(page, f"exit-{suffix}")
    tablet.assert_clean()


def test_two_tabs_at_two_stations_both_keep_working(nurse_ready, browser):
    """Opening the injection page in a second tab does not move the consent tab: each page's
    requests and live connection carry its own station."""
    process, api = nurse_ready
    _close_open_visits(api)
    person = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    tablet = Tablet(browser, process.url)
    consent = tablet.open("consent", desk="A")
    injection = tablet.context.new_page()
    injection.goto(f"{process.url}/sites/demo/stations/injection")
    expect(injection.locator("#connection")).to_have_attribute("data-state", "online", timeout=10_000)
    injection.select_option("#desk", "5")
    # The first tab, opened before, still works at consent ...
    consent.bring_to_front()  # (a tab behind another is throttled: the person at the tablet switches tabs)
    consent.click("#call-next")
    expect(consent.locator("#current-ticket")).to_have_text(person["ticket"])
    for answer in consent.locator(".yesno[data-question] input[value=no]").all():
        answer.check()
    pad = consent.locator("#signature")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    consent.mouse.move(box["x"] + 30, box["y"] + 60)
    consent.mouse.down()
    consent.mouse.move(box["x"] + 200, box["y"] + 100, steps=8)
    consent.mouse.up()
    consent.click("#eligible")
    expect(consent.locator("#consent")).to_be_hidden()
    # ... and the second at injection, live: the person consented in the first tab is called here.
    injection.bring_to_front()
    expect(injection.locator("#queue-count")).to_contain_text("1")
    injection.click("#call-next")
    expect(injection.locator("#current-ticket")).to_have_text(person["ticket"])
    for page in (consent, injection):
        assert page.locator("#message").get_attribute("data-kind") != "error", page.locator("#message").inner_text()
    consent.bring_to_front()
    consent.reload()  # and the first again, after the second
    expect(consent.locator("#connection")).to_have_attribute("data-state", "online", timeout=10_000)
    expect(consent.locator("#call-next")).to_be_visible()
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})
    tablet.assert_clean()


def test_a_permission_error_is_in_chinese_with_the_way_back(nurse_ready, browser):
    """An account of one station opening another's page, and an action the server refuses."""
    process, api = nurse_ready
    _close_open_visits(api)
    first = run_cli(process.env, "users", "add", "vaccinator", "--role", "station", "--site", "demo",
                    "--station", "injection").strip().splitlines()[-1].strip()
    page = browser.new_page()
    page.goto(f"{process.url}/login?lang=zh_Hans")
    page.fill("input[name=username]", "vaccinator")
    page.fill("input[name=password]", first)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/account/password"))
    page.fill("input[name=current_password]", first)
    page.fill("input[name=new_password]", NURSE_PASSWORD)
    page.fill("input[name=repeat_password]", NURSE_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))

    answer = page.goto(f"{process.url}/sites/demo/stations/consent")
    assert answer.status == 403
    text = page.locator("main").inner_text()
    assert "接种" in text and "知情同意" in text
    assert not re.search(r"[A-Za-z]{2,}", text), f"English on a Chinese page: {text!r}"
    expect(page.locator("main a[href='/']")).to_be_visible()
    shot(page, "not-your-station-zh")
    page.locator("main a[href='/sites/demo/stations/injection']").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=10_000)

    # The server refuses an action (here: the consent desk's call, which this account may not
    # make): the page says so in Chinese, with the way back to the station list.
    person = _at_injection(api)
    page.select_option("#desk", "2")

    def at_consent(route):
        route.fulfill(response=route.fetch(url=route.request.url.replace("/injection/", "/consent/")))

    page.route("**/stations/injection/call-next", at_consent)
    page.click("#call-next")
    message = page.locator("#message")
    expect(message).to_contain_text("此账号无权")
    assert not re.search(r"[A-Za-z]{2,}", message.inner_text()), message.inner_text()
    expect(page.locator("#message-back")).to_be_visible()
    assert page.locator("#message-back").get_attribute("href") == "/"
    in_reach(page, "#message-back")
    shot(page, "refused-zh")
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})
