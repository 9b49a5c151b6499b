"""The five station pages and the waiting-area display in Debian's Chromium, against a real
server: one person's whole journey by clicks and typed scanner input, the refusals a tablet
must show, the offline banner and exactly-once retries, both languages, and markup as text.

The site here observes for 1 minute (the shortest a site may set) on a clock running 6 times
faster, and has 2 seats, so a journey fits in a test and "observation full" is reachable. Screenshots go to tests/browser/__screenshots__/."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.support.english import english
from tests.support.factories import gen_checkin, gen_consent, gen_injection, gen_resident_id
from tests.support.live_servers import Api, ServerProcess, create_token, free_port, init_database, run_cli, server_env

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "browser-admin-1"
NURSE_PASSWORD = "nurse-password-1"
NAME = "张三明"
MARKUP = '<img src=x onerror=alert(1)>'
STATIONS = ("checkin", "consent", "injection", "observation", "exit")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server whose demo site observes for 1 minute with 2 seats; a nurse for every station."""
    folder = tmp_path_factory.mktemp("stations")
    sites = folder / "sites"
    sites.mkdir()
    config = (ROOT / "sites" / "demo.toml").read_text()
    config = re.sub(r"(?m)^minutes = 30\b", "minutes = 1", config)
    config = re.sub(r"(?m)^seats = 60\b", "seats = 2", config)
    (sites / "demo.toml").write_text(config)
    env = server_env(database_url=f"sqlite:///{folder / 'siteflow.db'}", sites=sites)
    env.update(SITEFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, SITEFLOW_INSTANCE_PATH=str(folder / "instance"))
    init_database(env)
    # The server's clock runs 6 times faster (as in the demo): the minute of observation takes
    # 10 s, and the pages must count down by the server's clock, not the browser's.
    env["SITEFLOW_CLOCK_SPEED"] = "6"
    added = run_cli(env, "users", "add", "nurse", "--role", "station", "--site", "demo",
                    *[arg for station in STATIONS for arg in ("--station", station)])
    first_password = added.strip().splitlines()[-1].strip()
    token = create_token(env, "admin")
    process = ServerProcess(env, free_port(), log_dir=folder).spawn()
    process.wait_ready()
    process.first_password = first_password
    yield process, Api(process.url, token)
    process.stop()


class Tablet:
    """A browser context signed in as the nurse: dialogs (an alert = injected script ran) and
    console errors are recorded."""

    def __init__(self, browser, base: str, *, viewport=(1280, 800), lang: str = "en", user="nurse",
                 timezone: str | None = None):
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                           timezone_id=timezone)
        self.page = self.context.new_page()
        self.base = base
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(f"{base}/login?lang={lang}")
        password = ADMIN_PASSWORD if user == "admin" else NURSE_PASSWORD
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit].primary")
        self.page.wait_for_load_state()

    def open(self, station: str, desk: str | None = None):
        self.page.goto(f"{self.base}/sites/demo/stations/{station}")
        expect(self.page.locator("#connection")).to_have_attribute("data-state", "online", timeout=10_000)
        if desk:
            self.page.select_option("#desk", desk)
        return self.page

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"script ran: {self.dialogs}"
        assert self.errors == [], self.errors


@pytest.fixture(scope="module")
def nurse_ready(site):
    """The nurse's generated first password is replaced once, as at a real first sign-in."""
    process, _ = site
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import ARGS, CHROMIUM, SCREENSHOTS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{process.url}/login")
        page.fill("input[name=username]", "nurse")
        page.fill("input[name=password]", process.first_password)
        page.click("button[type=submit].primary")
        page.wait_for_url(re.compile(r"/account/password"))
        page.fill("input[name=current_password]", process.first_password)
        page.fill("input[name=new_password]", NURSE_PASSWORD)
        page.fill("input[name=repeat_password]", NURSE_PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        browser.close()
    return site


def _display(browser, base: str, lang: str = "zh"):
    screen = Tablet(browser, base, viewport=(1920, 1080), user="admin")
    screen.page.goto(f"{base}/sites/demo/display?language={lang}")
    expect(screen.page.locator("#connection")).to_have_text("", timeout=10_000)
    return screen


def _visit(api: Api, ticket: str) -> dict:
    rows = api.get("/sites/demo/visits", state="waiting,called,serving,observing,emergency,released").json
    return next(row for row in rows["visits"] if row["ticket"] == ticket)


def _events(api: Api, visit_id: str) -> list[str]:
    return [event["type"] for event in api.get(f"/sites/demo/visits/{visit_id}").json["events"]]


def _clear_observation(api: Api) -> None:
    """Earlier tests' people leave observation (an admin's early release) so seats are free."""
    for row in api.get("/sites/demo/visits", state="observing,emergency").json["visits"]:
        if row["state"] == "emergency":
            api.post(f"/sites/demo/visits/{row['id']}/aefi-outcome", {"outcome": "transferred"})
        else:
            api.post(f"/sites/demo/visits/{row['id']}/release", {"override_reason": "test clean-up"})


def _to_observation(api: Api, name: str = "李四") -> dict:
    """A person checked in, consented and injected through the API (for the tests of later stations)."""
    visit = api.post("/sites/demo/visits", gen_checkin(name=name)).json["visit"]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent(desk="B"))
    api.post("/sites/demo/stations/injection/call-next", {"desk": "6"})
    done = api.post(f"/sites/demo/visits/{visit['id']}/injection", gen_injection(desk="6"))
    assert done.status == 200, done.json
    return done.json["visit"]


def test_one_person_through_the_five_stations_with_the_display_following(nurse_ready, browser):
    process, api = nurse_ready
    _clear_observation(api)
    screen = _display(browser, process.url, lang="en")
    tablet = Tablet(browser, process.url)
    number = gen_resident_id()
    seen_on_screen: list[str] = []

    def screen_text() -> str:
        text = screen.page.locator("#display").inner_text()
        seen_on_screen.append(text)
        return text

    # Check-in: the scanner types the number and Enter; a wrong digit is caught as it is typed.
    page = tablet.open("checkin")
    page.locator("#document_number").press_sequentially(number[:17] + ("1" if number[17] != "1" else "2"))
    expect(page.locator("#document_hint")).to_contain_text("Check digit is wrong")
    page.fill("#document_number", "")
    page.locator("#document_number").press_sequentially(number)
    page.keyboard.press("Enter")
    expect(page.locator("#document_hint")).to_contain_text("valid")
    expect(page.locator("#name")).to_be_focused()
    page.keyboard.type(NAME)
    page.keyboard.press("Enter")
    page.keyboard.type("13800138000")
    page.keyboard.press("Enter")
    expect(page.locator("#result-ticket")).to_have_text(re.compile(r"^A\d{3}$"))
    ticket = page.locator("#result-ticket").inner_text()
    assert NAME not in page.locator("#result").inner_text()  # masked on a tablet: 张*明
    assert "张*明" in page.locator("#result").inner_text()
    tablet.shot("station-checkin-en")
    slip_url = page.locator("#print-ticket").get_attribute("href")
    slip = tablet.context.new_page()
    slip.goto(process.url + slip_url)
    expect(slip.locator("article")).to_contain_text(ticket)
    assert slip.locator("article svg").count() == 1 and NAME not in slip.content()
    slip.close()

    # Consent desk A calls: the display shows the call within a second.
    page = tablet.open("consent", desk="A")
    page.click("#call-next")
    expect(screen.page.locator("#calls")).to_contain_text(ticket, timeout=1000)
    expect(page.locator("#current-ticket")).to_have_text(ticket)
    # Announced with a chime and the call spoken, letter by letter (the chime alone without a voice).
    expect(screen.page.locator("#display")).to_have_attribute("data-announced", "1")
    expect(screen.page.locator("#display")).to_have_attribute(
        "data-last-announcement", re.compile(" ".join(ticket)), timeout=5000)
    for answer in page.locator(".yesno[data-question] input[value=no]").all():
        answer.check()
    page.click("#eligible")
    expect(page.locator("#signature-error")).to_contain_text("signs in the box")  # not without a signature
    pad = page.locator("#signature")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(box["x"] + 260, box["y"] + 120, steps=12)
    page.mouse.up()
    tablet.shot("station-consent-en")
    page.click("#eligible")
    expect(page.locator("#consent")).to_be_hidden()
    assert "consented" in _events(api, _visit(api, ticket)["id"])
    assert NAME not in screen_text()

    # Injection booth 3: checklist, the vial's barcode picks the lot, left arm, confirm.
    page = tablet.open("injection", desk="3")
    page.click("#call-next")
    expect(screen.page.locator("#calls")).to_contain_text("3", timeout=1000)
    expect(screen.page.locator("#calls li").first).to_contain_text(ticket, timeout=1000)
    page.click("#confirm")
    expect(page.locator("#checklist-error")).to_contain_text("Tick every item")
    for item in page.locator("#checklist input").all():
        item.check()
    page.locator("#vial").press_sequentially("6970012345671")
    page.keyboard.press("Enter")
    expect(page.locator("#lot")).to_have_value("202610A127")
    page.check("input[name=arm][value=left_deltoid]")
    page.check("#auto-print")  # remembered on the tablet
    tablet.shot("station-injection-en")
    page.click("#confirm")
    expect(page.locator("#done-text")).to_contain_text(f"{ticket} may leave at")
    expect(page.locator("#print-observation")).to_have_attribute("href", re.compile(r"/slips/observation$"))
    # The observation slip prints by itself: it loads in the page's print frame and prints.
    expect(page.locator("#print-frame")).to_have_attribute("src", re.compile(r"/slips/observation#print$"))
    frame = page.frame_locator("#print-frame")
    expect(frame.locator("article")).to_contain_text(ticket)
    assert NAME not in page.frame_locator("#print-frame").locator("body").inner_text()

    # Observation: on the board with a countdown; on the display's board too.
    page = tablet.open("observation")
    expect(page.locator("#board")).to_contain_text(ticket)
    expect(screen.page.locator("#board")).to_contain_text(ticket)
    tablet.shot("station-observation-en")

    # Exit: too early is refused with the time remaining; once the minute is over, a tap releases.
    page = tablet.open("exit")
    page.locator("#board button", has_text=ticket).click()
    expect(page.locator("#message")).to_contain_text("Too early")
    expect(page.locator("#message")).to_contain_text("min")
    expect(page.locator("#board button", has_text=ticket)).to_contain_text("OK to leave", timeout=75_000)
    expect(screen.page.locator("#board")).to_contain_text("OK to leave", timeout=5_000)
    tablet.shot("station-exit-en")
    screen.shot("display-en")
    page.locator("#board button", has_text=ticket).click()
    expect(page.locator("#board")).not_to_contain_text(ticket)
    assert _visit(api, ticket)["state"] == "released"

    # The display never showed the person: not the name, the masked name or the ID number.
    seen_on_screen.append(screen.page.content())
    for text in seen_on_screen:
        assert NAME not in text and "张*明" not in text and number not in text and number[-4:] not in text
    tablet.assert_clean()
    screen.assert_clean()


def test_injection_refuses_an_expired_lot_and_waits_while_observation_is_full(nurse_ready, browser):
    process, api = nurse_ready
    _clear_observation(api)
    tablet = Tablet(browser, process.url)
    person = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    api.post(f"/sites/demo/visits/{person['id']}/consent", gen_consent(desk="B"))
    page = tablet.open("injection", desk="2")
    page.click("#call-next")
    expect(page.locator("#current-ticket")).to_have_text(person["ticket"])
    # The expired lot: scanning it is refused, and the list does not let it be chosen.
    page.locator("#vial").press_sequentially("6970012340019")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("expired on 2026-10-31")
    expect(page.locator("#lot")).not_to_have_value("202604A033")
    page.select_option("#product", "coronavac")
    expect(page.locator("#lot")).to_have_value("202610A127")  # the lots offered are those the site holds
    expect(page.locator("#lot option[value='202604A033']")).to_have_count(0)
    # Observation full: two seats, one person already observing and this one at the booth.
    _to_observation(api)
    page.click("#checklist")  # any tap; the page is live
    for item in page.locator("#checklist input").all():
        item.check()
    page.select_option("#lot", "202610A127")
    page.check("input[name=arm][value=right_deltoid]")
    page.click("#confirm")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#call-next")).to_be_disabled()
    expect(page.locator("#call-blocked")).to_contain_text("Observation is full (2 of 2 seats)")
    tablet.shot("station-injection-full-en")
    _clear_observation(api)
    expect(page.locator("#call-blocked")).to_have_text("Nobody is waiting.")  # no longer held back by observation
    tablet.assert_clean()


def test_the_adverse_event_form_moves_the_person_to_emergency_with_the_reporting_clock(nurse_ready, browser):
    process, api = nurse_ready
    _clear_observation(api)
    person = _to_observation(api, name="赵六")
    # A tablet set to another time zone than the site's (Shanghai): the onset it shows and sends
    # is the site's time of day, like every time on the page.
    tablet = Tablet(browser, process.url, timezone="America/New_York")
    page = tablet.open("observation")
    row = page.locator(f"#board li[data-visit='{person['id']}']")
    row.locator("button.danger").click()
    dialog = page.locator("#aefi-dialog")
    expect(dialog).to_be_visible()
    shown_onset = page.input_value("#aefi-onset")
    dialog.locator("button[type=submit]").click()
    expect(page.locator("#aefi-error")).to_contain_text("symptom")
    dialog.locator("input[name=symptom][value=rash]").check()
    page.fill("#aefi-other", MARKUP)
    dialog.locator("input[name=severity][value=serious]").check()
    dialog.locator("input[name=criteria][value=life_threatening]").check()
    page.fill("#aefi-actions", "Adrenaline 0.5 mg IM")
    tablet.shot("station-aefi-en")
    dialog.locator("button[type=submit]").click()
    emergency = page.locator(f"#emergency li[data-visit='{person['id']}']")
    expect(emergency).to_contain_text("Report due")  # serious: within 2 hours
    expect(page.locator("#board")).not_to_contain_text(person["ticket"])
    visit = _visit(api, person["ticket"])
    assert visit["state"] == "emergency"
    assert visit["aefi"][0]["symptoms"] == ["rash", MARKUP] and visit["aefi"][0]["severity"] == "serious"
    onset, reported = (datetime.fromisoformat(visit["aefi"][0][key]) for key in ("onset_at", "reported_at"))
    assert timedelta(0) <= reported - onset <= timedelta(minutes=3), (onset, reported)
    site_now = reported.astimezone(ZoneInfo("Asia/Shanghai"))
    minutes_apart = (site_now.hour * 60 + site_now.minute - _minute_of_day(shown_onset)) % 1440
    assert minutes_apart <= 3, f"the form offered {shown_onset}, the site's time was {site_now:%H:%M}"
    tablet.shot("station-observation-emergency-en")
    emergency.locator("button.danger").click()  # transferred to hospital
    expect(page.locator("#emergency")).not_to_contain_text(person["ticket"])
    assert _visit_state(api, person["id"]) == "transferred"
    tablet.assert_clean()


def _minute_of_day(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def test_a_refused_health_code_is_recorded_and_shown_with_the_reason(nurse_ready, browser):
    process, api = nurse_ready
    tablet = Tablet(browser, process.url)
    page = tablet.open("checkin")
    page.locator("#document_number").press_sequentially(gen_resident_id())
    page.fill("#name", "钱七")
    page.locator("label.code-yellow").click()
    page.click("#submit")
    expect(page.locator("#result-refused")).to_contain_text("Turned away: health code yellow")
    expect(page.locator("#print-ticket")).to_be_hidden()  # no ticket, no slip
    rows = api.get("/sites/demo/visits", state="turned_away").json["visits"]
    assert [row["health_code"] for row in rows if row["person"]["name"] == "钱七"] == ["yellow"]
    tablet.assert_clean()


def test_a_supervisor_releases_early_only_with_a_reason(nurse_ready, browser):
    process, api = nurse_ready
    _clear_observation(api)
    person = _to_observation(api, name="孙八")
    boss = Tablet(browser, process.url, user="admin")
    page = boss.open("exit")
    expect(page.locator("#board")).to_contain_text(person["ticket"])
    page.locator("#scan").press_sequentially(f"siteflow:demo:{person['id']}")  # the slip's QR code
    page.keyboard.press("Enter")
    dialog = page.locator("#early-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Too early")
    page.fill("#early-reason", "Escorted out by family doctor")
    page.click("#early-confirm")
    expect(page.locator("#board")).not_to_contain_text(person["ticket"])
    visit = api.get(f"/sites/demo/visits/{person['id']}").json["visit"]
    assert visit["state"] == "released" and visit["release_override"] == "Escorted out by family doctor"
    boss.assert_clean()


def _visit_state(api: Api, visit_id: str) -> str:
    return api.get(f"/sites/demo/visits/{visit_id}").json["visit"]["state"]


def test_offline_shows_the_banner_and_a_press_meanwhile_is_applied_exactly_once(nurse_ready, browser):
    process, api = nurse_ready
    tablet = Tablet(browser, process.url)
    person = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    sockets = []
    blocked = {"now": False}

    def through(ws):
        if blocked["now"]:
            ws.close()
            return
        sockets.append(ws)
        ws.connect_to_server()

    tablet.context.route_web_socket(re.compile(r"/socket\.io/"), through)
    page = tablet.open("consent", desk="A")
    expect(page.locator("#offline")).to_be_hidden()

    # The connection drops: the WebSocket closes and requests fail.
    blocked["now"] = True
    tablet.context.route("**/api/v1/**", lambda route: route.abort())
    for ws in sockets:
        ws.close()
    expect(page.locator("#offline")).to_be_visible()
    page.click("#call-next")
    expect(page.locator("#pending")).to_be_visible()
    tablet.shot("station-offline-en")
    assert _visit_state(api, person["id"]) == "waiting"  # nothing arrived yet

    # Back: the press goes out with its key, once.
    blocked["now"] = False
    tablet.context.unroute("**/api/v1/**")
    expect(page.locator("#current-ticket")).to_have_text(person["ticket"], timeout=15_000)
    expect(page.locator("#offline")).to_be_hidden(timeout=15_000)
    expect(page.locator("#pending")).to_be_hidden()
    assert _events(api, person["id"]).count("called") == 1

    # An answer lost on the way back: the request reached the server, the tablet retries.
    lost = {"count": 0}

    def lose_the_answer(route):
        if lost["count"] == 0:
            lost["count"] += 1
            route.fetch()  # the server records it ...
            route.abort()  # ... and the tablet never hears
        else:
            route.continue_()

    tablet.context.route("**/recall", lose_the_answer)
    page.click("#recall")
    expect(page.locator("#message")).to_contain_text("Called again", timeout=15_000)
    assert lost["count"] == 1
    assert _events(api, person["id"]).count("recalled") == 1
    assert api.get(f"/sites/demo/visits/{person['id']}").json["visit"]["recalls"] == 1
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})
    tablet.assert_clean()


def test_undo_takes_back_a_call_within_seconds(nurse_ready, browser):
    process, api = nurse_ready
    person = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    tablet = Tablet(browser, process.url)
    page = tablet.open("consent", desk="B")
    page = tablet.open("consent")
    expect(page.locator("#desk")).to_have_value("B")  # the tablet remembers its desk
    page.click("#call-next")
    expect(page.locator("#current-ticket")).to_have_text(person["ticket"])
    expect(page.locator("#toast")).to_be_visible()
    page.click("#undo")
    expect(page.locator("#message")).to_contain_text("Undone")
    expect(page.locator("#current")).to_be_hidden()
    assert _visit_state(api, person["id"]) == "waiting"
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})
    tablet.assert_clean()


def test_a_station_whose_session_is_ended_goes_to_sign_in_and_comes_back_live_after_it(nurse_ready, browser):
    """An admin signs the nurse out everywhere: the open station page is disconnected with a
    reason, shows the sign-in page, and after the nurse signs in again it is back and live."""
    process, api = nurse_ready
    tablet = Tablet(browser, process.url)
    page = tablet.open("consent", desk="B")
    admin = Tablet(browser, process.url, user="admin")
    admin.page.goto(f"{process.url}/users")
    admin.page.locator("tr", has_text="nurse").get_by_role("button", name="Sign out everywhere").click()
    expect(admin.page.locator("body")).to_contain_text("sessions of nurse ended")
    page.wait_for_url(re.compile(r"/login"), timeout=5_000)
    page.fill("input[name=username]", "nurse")
    page.fill("input[name=password]", NURSE_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/sites/demo/stations/consent"))
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=10_000)
    person = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    page.click("#call-next")
    expect(page.locator("#current-ticket")).to_have_text(person["ticket"])
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})
    tablet.assert_clean()
    admin.assert_clean()


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_every_page_renders_in_both_languages_and_names_stay_text(nurse_ready, browser, lang):
    """Screenshots of every station page and the display in each language; a name made of
    markup is shown as text on every page it appears on."""
    process, api = nurse_ready
    _clear_observation(api)
    person = _to_observation(api, name=MARKUP)
    waiting = api.post("/sites/demo/visits", gen_checkin(name=MARKUP)).json["visit"]
    tablet = Tablet(browser, process.url, lang=lang)
    chinese = re.compile(r"[\u4e00-\u9fff]")
    suffix = "zh" if lang == "zh_Hans" else "en"
    for station in STATIONS:
        page = tablet.open(station, desk={"consent": "A", "injection": "1"}.get(station))
        body = page.locator("body").inner_text().replace(MARKUP, "")  # the name made of markup is data
        if lang == "zh_Hans":
            assert english(body) == [], f"{station}: English left in the Chinese page"
        else:
            chrome = page.locator(".station-bar, form, .card h2, label").all_inner_texts()
            assert not any(chinese.search(text) for text in chrome if "三查" not in text), f"{station}: Chinese in English"
        tablet.page.set_viewport_size({"width": 1280, "height": 800})
        tablet.shot(f"station-{station}-{suffix}")
    page = tablet.open("observation")
    expect(page.locator("#board")).to_contain_text(person["ticket"])
    assert page.locator("#board img").count() == 0
    tablet.page.set_viewport_size({"width": 800, "height": 1280})  # portrait
    tablet.shot(f"station-observation-portrait-{suffix}")
    screen = _display(browser, process.url, lang="zh" if lang == "zh_Hans" else "en")
    expect(screen.page.locator("#counts")).to_contain_text("1")
    assert MARKUP not in screen.page.locator("#display").inner_text()
    if lang == "zh_Hans":
        assert english(screen.page.locator("body").inner_text()) == [], "English left on the Chinese TV board"
    screen.shot(f"display-{suffix}")
    slips = Tablet(browser, process.url, lang=lang, user="admin")
    slips.page.goto(f"{process.url}/sites/demo/visits/{person['id']}/slips/observation?paper=80")
    slips.shot(f"slip-observation-{suffix}")
    slips.page.goto(f"{process.url}/sites/demo/slips?lang={lang}")
    slips.shot(f"slips-reprint-{suffix}")
    api.post(f"/sites/demo/visits/{waiting['id']}/cancel", {"reason": "test over"})
    for watched in (tablet, screen, slips):
        watched.assert_clean()
    time.sleep(0)


def test_a_refusal_of_the_server_is_said_in_chinese_on_a_chinese_tablet(nurse_ready, browser):
    """The API words its refusals in English: a Chinese tablet says them in Chinese (here: a
    call announced more often than the site allows)."""
    process, api = nurse_ready
    _clear_observation(api)
    for row in api.get("/sites/demo/visits", state="waiting,called,serving").json["visits"]:
        api.post(f"/sites/demo/visits/{row['id']}/cancel", {"reason": "test clean-up"})
    person = api.post("/sites/demo/visits", gen_checkin(name="钱七")).json["visit"]
    tablet = Tablet(browser, process.url, lang="zh_Hans")
    page = tablet.open("consent", desk="A")
    page.locator("#call-next").click()
    expect(page.locator("#station")).to_contain_text(person["ticket"])
    message = page.locator("#message")
    for _ in range(3):  # max_recalls = 2: the third "call again" is refused
        page.locator("#recall").click()
    expect(message).to_contain_text("叫号次数已达上限")
    assert english(message.inner_text()) == [], message.inner_text()
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})
    tablet.assert_clean()
