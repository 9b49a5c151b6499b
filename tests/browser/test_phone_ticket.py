"""The person's live ticket on their own phone (issue 17) in Debian's Chromium, against a real
server: the QR code read from the printed slip opens the page with no login, and the page follows
the person through the flow as the API records it, without reloading: the desk when called (the
phone vibrates), the observation countdown with the time they may leave, "OK to leave" when it is
over, then done. A wrong code is the same 404 as any unknown address; without JavaScript the page
shows the step and reloads itself; a Chinese phone gets it in Chinese; neither the page nor any
`ticket` message carries the person's name, document number or phone.

The site observes for 1 minute on a clock running 6 times faster (10 s of real time), so the
observation really ends within the test. Screenshots (a 390x844 phone) go to
tests/browser/__screenshots__/phone-<step>-<lang>.png."""
from __future__ import annotations

import json
import re
import secrets
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.domain.identity import mask_name
from tests.browser.conftest import SCREENSHOTS
from tests.support.english import english
from tests.support.factories import gen_checkin, gen_consent, gen_injection, gen_resident_id
from tests.support.live_servers import (
    Api,
    ServerProcess,
    create_token,
    free_port,
    init_database,
    server_env,
    short_observation_sites,
)
from tests.support.printed import DPI, MIN_QR_MM, PRINTABLE_MM, mm, print_page, read_qr

SITE_TZ = ZoneInfo("Asia/Shanghai")  # sites/demo.toml
CLOCK_SPEED = 6
PHONE = {"width": 390, "height": 844}
LOCALES = {"en": "en-GB", "zh": "zh-CN"}
STEP_MS = 5_000  # a change reaches the phone within this
OBSERVATION_MS = 60_000 // CLOCK_SPEED + STEP_MS  # the minute of observation, in real time, and its push
VIBRATION = [400, 150, 400, 150, 400]
# Records the page's calls of navigator.vibrate (headless Chromium has no motor to ask).
VIBRATE_STUB = """
window.__vibrations = [];
Object.defineProperty(Navigator.prototype, "vibrate", {
  configurable: true, value(pattern) { window.__vibrations.push(pattern); return true; } });
"""
# A Socket.IO event frame over the WebSocket: "42" (a message, an event), the namespace if not
# "/", an ack id, then the JSON array [name, ...arguments].
EVENT_FRAME = re.compile(r"42(?:/[^,\[]*,)?\d*(\[.*)", re.S)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server whose demo site observes for 1 minute on a clock 6 times faster; an admin's API."""
    folder = tmp_path_factory.mktemp("phone")
    sites = short_observation_sites(folder)
    env = server_env(database_url=f"sqlite:///{folder / 'siteflow.db'}", sites=sites)
    env.update(SITEFLOW_INSTANCE_PATH=str(folder / "instance"), SITEFLOW_CLOCK_SPEED=str(CLOCK_SPEED))
    init_database(env)
    token = create_token(env, "admin")
    process = ServerProcess(env, free_port(), log_dir=folder).spawn()
    try:
        process.wait_ready()
        yield process.url, Api(process.url, token), token
    finally:
        process.stop()


# --- the flow, through the API ---------------------------------------------------------------

def _check_in(api: Api, **overrides) -> tuple[dict, dict, str]:
    """(the check-in's body, the visit, the phone ticket's URL)."""
    body = gen_checkin(**overrides)
    answer = api.post("/sites/demo/visits", body)
    assert answer.status == 201, answer.json
    return body, answer.json["visit"], answer.json["ticket_page"]["url"]


def _call(api: Api, station: str, desk: str, visit: dict) -> None:
    answer = api.post(f"/sites/demo/stations/{station}/call-next", {"desk": desk})
    assert answer.status == 200, answer.json
    assert answer.json["visit"]["id"] == visit["id"], f"another person was waiting at {station}"


def _record(api: Api, visit: dict, action: str, body: dict) -> dict:
    answer = api.post(f"/sites/demo/visits/{visit['id']}/{action}", body)
    assert answer.ok, (action, answer.status, answer.json)
    return answer.json["visit"]


def _local_time(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(SITE_TZ).strftime("%H:%M")


def _seconds(clock: str) -> int:
    minutes, seconds = clock.split(":")
    return int(minutes) * 60 + int(seconds)


# --- the slip ---------------------------------------------------------------------------------

def _scan_slip(browser, base: str, token: str, visit_id: str, code: str, paper: str = "58") -> tuple[str, str]:
    """Print the ticket slip with its phone code on the narrower roll as Chromium prints it, as a
    thermal printhead makes it (203 dpi, black or white), and read its QR code with a real decoder:
    (what the QR code holds, the short URL printed under it)."""
    staff = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
    try:
        page = staff.new_page()
        answer = page.goto(f"{base}/sites/demo/visits/{visit_id}/slips/ticket?code={code}&paper={paper}&lang=en")
        assert answer is not None and answer.ok
        expect(page.locator("article .phone")).to_have_text("Scan to follow your turn on your phone")
        short = page.locator("article .url").inner_text()
        text, (left, right), image = print_page(page, paper)
    finally:
        staff.close()
    margin = (int(paper) - PRINTABLE_MM[paper]) / 2
    assert re.sub(r"\s+", "", short) in re.sub(r"\s+", "", text), f"the short URL {short!r} is not printed"
    assert margin <= left and right <= int(paper) - margin, f"text printed at {left:.1f}-{right:.1f} mm"
    image = image.point(lambda value: 255 if value >= 128 else 0)
    image.save(SCREENSHOTS / f"slip-phone-ticket-{paper}mm.png")
    qr, (qr_left, _, qr_right, _) = read_qr(image)
    assert qr.ec_level in ("M", "Q", "H")
    assert mm(qr_right - qr_left) >= MIN_QR_MM, f"the QR code is {mm(qr_right - qr_left):.1f} mm wide"
    assert margin <= mm(qr_left) and mm(qr_right) <= int(paper) - margin, "the QR code is not all printed"
    return qr.text, short


# --- the phone --------------------------------------------------------------------------------

class Phone:
    """A phone's browser: a fresh context (no cookie, no credential), 390x844, in a language.
    What it received over its WebSockets, what it showed, its vibrations and its script errors
    are recorded."""

    def __init__(self, browser, lang: str, *, javascript: bool = True):
        self.lang = lang
        self.context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                           locale=LOCALES[lang], java_script_enabled=javascript)
        assert self.context.cookies() == [], "not a fresh phone"
        self.context.add_init_script(VIBRATE_STUB)
        self.page = self.context.new_page()
        self.frames: list[str | bytes] = []
        self.shown: list[str] = []  # the page's HTML at every step
        self.navigations: list[str] = []
        self.errors: list[str] = []
        self.page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: self.frames.append(frame)))
        self.page.on("framenavigated", lambda frame: frame == self.page.main_frame and self.navigations.append(frame.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))

    def open(self, url: str) -> None:
        answer = self.page.goto(url)
        assert answer is not None and answer.status == 200, answer and answer.status
        assert self.page.url == url, f"sent on to {self.page.url}"

    def expect_step(self, step: str, timeout: float = STEP_MS) -> None:
        expect(self.page.locator("body")).to_have_class(re.compile(rf"(^|\s)step-{step}(\s|$)"), timeout=timeout)
        self.shown.append(self.page.content())

    def shot(self, step: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"phone-{step}-{self.lang}.png"))

    def wait_for_ticket(self, count: int = 1, timeout: float = STEP_MS) -> None:
        """Until `count` ticket messages came (the page's events run meanwhile)."""
        deadline = time.monotonic() + timeout / 1000
        while len(self.ticket_messages()) < count:
            assert time.monotonic() < deadline, f"{len(self.ticket_messages())} ticket messages, not {count}"
            self.page.wait_for_timeout(50)

    def vibrations(self) -> list[list[int]]:
        return self.page.evaluate("window.__vibrations")

    def events(self) -> list[list]:
        """Every Socket.IO event received, decoded: [name, *arguments]."""
        found = []
        for frame in self.frames:
            match = EVENT_FRAME.fullmatch(frame if isinstance(frame, str) else frame.decode())
            if match:
                found.append(json.loads(match.group(1)))
        return found

    def ticket_messages(self) -> list[dict]:
        return [argument for name, *arguments in self.events() if name == "ticket" for argument in arguments]

    def close(self) -> None:
        self.context.close()


def _assert_private(texts: list[str], person: dict) -> None:
    """None of `texts` holds the person's name (whole or masked), document number or phone."""
    for secret in (person["name"], mask_name(person["name"]), person["document_number"], person["phone"]):
        leaks = [text[:200] for text in texts if secret in text]
        assert not leaks, f"{secret!r} is shown to the phone: {leaks}"


# --- the tests --------------------------------------------------------------------------------

def test_the_slips_qr_opens_the_live_ticket_without_login_and_it_follows_the_person(server, browser):
    base, api, token = server
    person, visit, url = _check_in(api, name="欧阳丽华", phone="13912345678", document_number=gen_resident_id())
    code = url.rsplit("/t/", 1)[1]
    scanned, short = _scan_slip(browser, base, token, visit["id"], code)
    assert scanned == url == f"{base}/t/{code}"
    assert short == url.split("://", 1)[1]

    phone = Phone(browser, "en")
    page = phone.page
    phone.open(scanned)
    phone.expect_step("waiting")
    expect(page.locator("#number")).to_have_text(visit["ticket"])
    expect(page.locator("#title")).to_have_text("Waiting for Consent")
    expect(page.locator("#detail")).to_have_text("You are next")
    expect(page.locator("#status")).to_contain_text("keep it open")
    page.wait_for_function("window.__vibrations !== undefined")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates
    phone.shot("waiting")

    # Called to consent desk A: the desk in large type, in view, and the phone vibrates.
    _call(api, "consent", "A", visit)
    phone.expect_step("called")
    desk = page.locator("#desk")
    expect(desk).to_have_text("Desk A")
    expect(desk).to_be_in_viewport()
    font = page.evaluate("[getComputedStyle(document.getElementById('desk')).fontSize, getComputedStyle(document.body).fontSize]")
    assert float(font[0].removesuffix("px")) >= 2 * float(font[1].removesuffix("px")), f"the desk is not large: {font}"
    expect(page.locator("#title")).to_have_text("Go to Consent now")
    assert phone.vibrations() == [VIBRATION]
    phone.shot("called")

    # Consent recorded: waiting at injection (no vibration); called to booth 1 (a vibration).
    _record(api, visit, "consent", gen_consent("A"))
    phone.expect_step("waiting")
    expect(page.locator("#title")).to_have_text("Waiting for Injection")
    expect(desk).to_be_hidden()
    assert phone.vibrations() == [VIBRATION]
    _call(api, "injection", "1", visit)
    phone.expect_step("called")
    expect(desk).to_have_text("Desk 1")
    assert phone.vibrations() == [VIBRATION, VIBRATION]

    # Injected: the observation, counting down to the time they may leave, which the title says.
    injected = _record(api, visit, "injection", gen_injection("1"))
    leave_at = _local_time(injected["observation"]["leave_at"])
    phone.expect_step("observing")
    expect(page.locator("#title")).to_have_text(f"In observation: OK to leave at {leave_at}")
    remaining = page.locator("#remaining")
    expect(page.locator("#countdown")).to_be_visible()
    expect(remaining).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(page.locator("#emergency")).to_be_visible()
    phone.shot("observing")
    first = remaining.inner_text()
    expect(remaining).not_to_have_text(first, timeout=STEP_MS)
    assert 0 < _seconds(remaining.inner_text()) < _seconds(first) <= 60, (first, remaining.inner_text())

    # The observation ends by itself on the page; the exit releases them: done.
    phone.expect_step("may_leave", timeout=OBSERVATION_MS)
    expect(page.locator("#countdown")).to_be_hidden()
    expect(page.locator("#title")).to_have_text("Your observation is over: you may go to the exit")
    _record(api, visit, "release", {})
    phone.expect_step("done")
    expect(page.locator("#title")).to_have_text("Done: you may leave")
    expect(page.locator("#number")).to_have_text(visit["ticket"])

    # All of it without a reload, over the ticket's own WebSocket, and nothing about the person.
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert phone.navigations == [scanned], phone.navigations
    assert phone.vibrations() == [VIBRATION, VIBRATION], "it vibrated without a call"
    messages = phone.ticket_messages()
    steps = [message["step"] for message in messages]
    assert {"waiting", "called", "observing", "may_leave", "done"} <= set(steps), steps
    _assert_private(phone.shown + [json.dumps(event, ensure_ascii=False) for event in phone.events()], person)
    assert phone.errors == [], phone.errors
    phone.close()


def test_a_replaced_code_ends_its_page_and_a_wrong_one_is_the_same_404_as_any_unknown_address(server, browser):
    base, api, _ = server
    _, visit, url = _check_in(api)
    phone = Phone(browser, "en")
    page = phone.page
    try:
        phone.open(url)
        phone.expect_step("waiting")
        phone.wait_for_ticket()  # its socket is in the ticket's room
        # A lost slip reprinted with a new code: the page of the old one is told at once.
        new = api.post(f"/sites/demo/visits/{visit['id']}/ticket-code")
        assert new.ok, new.json
        expect(page.locator("#status")).to_have_text("This ticket has ended. Please see a member of staff.",
                                                     timeout=STEP_MS)

        answer = page.goto(f"{base}/nope")
        assert answer is not None and answer.status == 404
        unknown = (page.title(), page.locator("body").inner_text())
        wrong = secrets.token_urlsafe(16)
        for path in (f"/t/{wrong}", "/t/not-a-code", url.split(base, 1)[1]):  # unknown, malformed, replaced
            answer = page.goto(base + path)
            assert answer is not None and answer.status == 404, (path, answer and answer.status)
            assert (page.title(), page.locator("body").inner_text()) == unknown, path
            assert path.rsplit("/", 1)[1] not in page.content(), f"{path}: the page repeats the code"
        phone.open(new.json["ticket_page"]["url"])  # the new code opens the page
        expect(page.locator("#number")).to_have_text(visit["ticket"])
    finally:
        phone.close()
        _record(api, visit, "cancel", {"reason": "test clean-up"})


def test_without_javascript_the_page_shows_the_step_and_refreshes_itself(server, browser):
    base, api, _ = server
    person, visit, url = _check_in(api)
    code = url.rsplit("/t/", 1)[1]
    phone = Phone(browser, "en", javascript=False)
    page = phone.page
    try:
        phone.open(url)
        phone.expect_step("waiting")
        expect(page.locator("#number")).to_have_text(visit["ticket"])
        expect(page.locator("#title")).to_have_text("Waiting for Consent")
        expect(page.locator("#desk")).to_be_hidden()
        refresh = page.locator('head meta[http-equiv="refresh"]')
        expect(refresh).to_have_attribute("content", f"20;url=/t/{code}?refresh=1")
        assert phone.frames == [], "a socket without JavaScript"

        _call(api, "consent", "B", visit)
        # What the refresh loads in 20 s, loaded now.
        phone.open(f"{base}/t/{code}?refresh=1")
        phone.expect_step("called")
        expect(page.locator("#desk")).to_have_text("Desk B")
        expect(page.locator("#title")).to_have_text("Go to Consent now")
        expect(refresh).to_have_attribute("content", f"20;url=/t/{code}?refresh=1")
        _assert_private(phone.shown, person)
        assert phone.errors == [], phone.errors
    finally:
        phone.close()
        _record(api, visit, "cancel", {"reason": "test clean-up"})


def test_a_chinese_phone_shows_the_ticket_in_chinese(server, browser):
    _, api, _ = server
    person, visit, url = _check_in(api, name="赵钱孙", phone="13698765432")
    phone = Phone(browser, "zh")
    page = phone.page
    left_in_english: dict[str, list[str]] = {}
    texts: list[str] = []

    def check(step: str) -> None:
        phone.expect_step(step)
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        texts.append(page.locator("body").inner_text())
        words = english(texts[-1])
        if words:
            left_in_english[step] = words

    try:
        phone.open(url)
        check("waiting")
        expect(page.locator("#number")).to_have_text(visit["ticket"])
        expect(page.locator(".site")).to_have_text("滨江社区新冠疫苗临时接种点")
        phone.shot("waiting")
        _call(api, "consent", "A", visit)
        check("called")
        expect(page.locator("#desk")).to_contain_text("A")
        phone.shot("called")
        _record(api, visit, "consent", gen_consent("A"))
        check("waiting")
        _call(api, "injection", "2", visit)
        check("called")
        injected = _record(api, visit, "injection", gen_injection("2"))
        check("observing")
        expect(page.locator("#title")).to_contain_text(_local_time(injected["observation"]["leave_at"]))
        phone.shot("observing")
        _assert_private(phone.shown + [json.dumps(event, ensure_ascii=False) for event in phone.events()], person)
        assert phone.errors == [], phone.errors
    finally:
        phone.close()
    assert left_in_english == {}, f"English left on the Chinese page, by step: {left_in_english}"
