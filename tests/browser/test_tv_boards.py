"""The waiting-area TV (a paired display: /display with its token) in Debian's Chromium against a
real server whose observation board holds more people than one screen: at 1920x1080 and
1280x720, in Chinese and in English, nothing scrolls and nothing leaves the screen; the board
and the calls turn pages so that every ticket is seen within 30 s; the countdown is the board's
largest text; an emergency is red and labelled; a new call stands out for a few seconds; sound
is invited on a device's first use, and again only while the browser blocks it; the clocks
show the site's time, not the browser's.

The site observes for 1 minute (60 with an allergy history) on a clock running 12 times faster,
so the first people are "OK to leave" within 5 s while the others count down for 5 minutes. The browser
is in New York, the site in Shanghai. The page turns are driven by Playwright's clock (fake
timers), not by waiting. Screenshots go to tests/browser/__screenshots__/ (git-ignored)."""
from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARGS, CHROMIUM, SCREENSHOTS
from tests.support.factories import gen_checkin, gen_consent, gen_injection
from tests.support.live_servers import (
    Api,
    ServerProcess,
    create_tokens,
    free_port,
    init_database,
    server_env,
    short_observation_sites,
)

ADMIN_PASSWORD = "browser-admin-1"
SITE_ZONE = ZoneInfo("Asia/Shanghai")
BROWSER_ZONE = "America/New_York"
READY, COUNTING = 6, 34  # more than a page of the board at either size
SIZES = {"1920x1080": (1920, 1080), "1280x720": (1280, 720)}
LABELS = {"zh": {"emergency": "紧急情况", "ok": "可以离开"}, "en": {"emergency": "Emergency", "ok": "OK to leave"}}


def _to_observation(api: Api, *, extended: bool) -> dict:
    visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent("B", allergy_history=extended))
    api.post("/sites/demo/stations/injection/call-next", {"desk": "6"})
    done = api.post(f"/sites/demo/visits/{visit['id']}/injection", gen_injection("6"))
    assert done.status == 200, done.json
    return done.json["visit"]


def _seed(api: Api) -> None:
    """40 people in observation (6 soon OK to leave), one of them then in the emergency area,
    and 7 calls: booths 1-5 and consent desks A and B."""
    people = [_to_observation(api, extended=n >= READY) for n in range(READY + COUNTING)]
    now = api.get("/sites/demo/snapshot").json["at"]  # the server's clock (12x) for the onset time
    sick = api.post(f"/sites/demo/visits/{people[-1]['id']}/aefi",
                    {"symptoms": ["urticaria"], "onset_at": now, "severity": "minor", "actions": "antihistamine"})
    assert sick.status == 200, sick.json
    for desk in "12345":
        visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
        api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
        api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent("B"))
        assert api.post("/sites/demo/stations/injection/call-next", {"desk": desk}).status == 200
    for desk in "AB":
        api.post("/sites/demo/visits", gen_checkin())
        assert api.post("/sites/demo/stations/consent/call-next", {"desk": desk}).status == 200


@pytest.fixture(scope="module")
def tv_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tv")
    sites = short_observation_sites(folder)
    env = server_env(database_url=f"sqlite:///{folder / 'siteflow.db'}", sites=sites)
    env.update(SITEFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, SITEFLOW_INSTANCE_PATH=str(folder / "instance"),
               SITEFLOW_CLOCK_SPEED="12")
    init_database(env)
    tokens = create_tokens(env, {"admin": {"role": "admin"}, "display": {"role": "display", "site": "demo"}})
    process = ServerProcess(env, free_port(), log_dir=folder).spawn()
    try:
        process.wait_ready()
        api = Api(process.url, tokens["admin"])
        _seed(api)
        yield process, api, tokens["display"]
    finally:
        process.stop()


class Screen:
    """A paired TV: its credential and settings in localStorage, as /pair leaves them; page errors
    and console errors recorded."""

    def __init__(self, browser, tv_site, *, size="1920x1080", language="both", fake_clock=False):
        process, _, token = tv_site
        width, height = SIZES[size]
        self.context = browser.new_context(viewport={"width": width, "height": height}, timezone_id=BROWSER_ZONE,
                                           locale="en-US")
        paired = {"token": token, "site": "demo", "settings": {
            "label": "Hall A", "stations": ["checkin", "consent", "injection", "observation", "exit"],
            "language": language, "site_name": "Riverside"}}
        self.context.add_init_script(script=f"localStorage.setItem('siteflow.display', {json.dumps(json.dumps(paired))})")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        if fake_clock:
            self.page.clock.install()
        self.page.goto(f"{process.url}/display")
        expect(self.page.locator("#board li").first).to_be_visible(timeout=10_000)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


FIT = """() => {
  const name = (n) => `${n.tagName.toLowerCase()}#${n.id}.${n.className} "${n.textContent.slice(0, 30)}"`;
  const inside = (r, box) => r.left >= box.left - 1 && r.top >= box.top - 1 && r.right <= box.right + 1 && r.bottom <= box.bottom + 1;
  const screen = { left: 0, top: 0, right: innerWidth, bottom: innerHeight };
  const outside = [];
  for (const node of document.body.querySelectorAll("*")) {
    const r = node.getBoundingClientRect();
    if (r.width && r.height && !inside(r, screen)) outside.push(name(node));
  }
  const spilled = []; // text wider than its box: cut, or running out of its cell
  for (const node of document.querySelectorAll(".tv-board li > *, .calls li > *, .calls .where > *, .counts li > *")) {
    if (node.scrollWidth > node.clientWidth + 1 || !inside(node.getBoundingClientRect(), node.parentElement.getBoundingClientRect())) spilled.push(name(node));
  }
  const doc = document.documentElement;
  return { scrollHeight: doc.scrollHeight, scrollWidth: doc.scrollWidth, outside, spilled };
}"""

TEXT_SIZES = """() => [...document.querySelectorAll("#observation *")]
  .filter((n) => n.getClientRects().length && [...n.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim()))
  .map((n) => [n.className || n.tagName, parseFloat(getComputedStyle(n).fontSize), n.textContent])"""


def _hhmm(iso: str, minutes: int = 0) -> str:
    return (datetime.fromisoformat(iso) + timedelta(minutes=minutes)).astimezone(SITE_ZONE).strftime("%H:%M")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_the_tv_fits_its_screen_with_the_countdowns_largest_an_emergency_in_red_and_the_site_time(
        tv_site, browser, size, language):
    _, api, _ = tv_site
    tv = Screen(browser, tv_site, size=size, language=language)
    page = tv.page
    expect(page.locator("#board li.ready").first).to_be_visible(timeout=20_000)  # some OK to leave, some counting
    expect(page.locator("#board li:not(.ready)").first).to_be_visible()
    expect(page.locator("#calls li")).not_to_have_count(0)
    expect(page.locator("#sound")).to_be_visible()  # first use on this device

    fit = page.evaluate(FIT)
    width, height = SIZES[size]
    assert fit["scrollHeight"] <= height and fit["scrollWidth"] <= width, fit
    assert fit["outside"] == [], fit["outside"]
    assert fit["spilled"] == [], fit["spilled"]
    pages = page.locator("#board").get_attribute("data-page")
    assert pages and int(pages.split("/")[1]) >= 2, pages  # more people than fit: pages
    expect(page.locator("#board-page")).to_have_text(re.compile(r"(page|第) 1/\d"))

    sizes = page.evaluate(TEXT_SIZES)
    countdowns = [size for kind, size, _ in sizes if kind == "countdown"]
    others = [(kind, size) for kind, size, _ in sizes if kind != "countdown"]
    assert countdowns and len(set(countdowns)) == 1, sizes
    assert all(size < countdowns[0] for _, size in others), (countdowns[0], others)
    assert LABELS[language]["ok"] in [text for kind, _, text in sizes if kind == "countdown"]

    emergency = page.locator("#emergency")
    expect(emergency).to_be_visible()
    expect(emergency.locator("strong")).to_have_text(LABELS[language]["emergency"])
    red, green, blue = map(int, re.findall(r"\d+", emergency.evaluate("(n) => getComputedStyle(n).backgroundColor"))[:3])
    assert red >= 150 and green <= 80 and blue <= 80, (red, green, blue)

    # The site's time (Shanghai), not the browser's (New York): the server's clock runs 12x.
    shown = page.locator("#clock").inner_text()
    at = api.get("/sites/demo/snapshot").json["at"]
    assert shown in (_hhmm(at, -1), _hhmm(at), _hhmm(at, 1)), (shown, at)
    tv.shot(f"tv-{size}-{language}")
    tv.close()


def test_the_board_and_the_calls_turn_pages_so_every_ticket_is_seen_within_30_seconds(tv_site, browser):
    _, api, _ = tv_site
    snapshot = api.get("/sites/demo/snapshot").json
    tickets = {entry["ticket"] for entry in snapshot["observation"]["board"]}
    calls = {call["ticket"] for call in snapshot["calling"]}
    assert len(tickets) == READY + COUNTING - 1 and len(calls) == 7
    tv = Screen(browser, tv_site, size="1280x720", fake_clock=True)
    page = tv.page
    seen: set[str] = set()
    seen_calls: set[str] = set()
    turns: list[tuple[int, str | None]] = []
    for second in range(31):  # 30 s of the page's time, a second at a time
        seen |= set(page.locator("#board .ticket").all_inner_texts())
        seen_calls |= set(page.locator("#calls .ticket").all_inner_texts())
        shown = page.locator("#board").get_attribute("data-page")
        if not turns or turns[-1][1] != shown:
            turns.append((second, shown))
        page.clock.run_for(1000)
    assert seen == tickets, f"never shown: {tickets - seen}"
    assert seen_calls == calls, f"never shown: {calls - seen_calls}"
    pages = int(str(turns[0][1]).split("/")[1])
    assert 2 <= pages <= 4, turns  # (4 pages at most in 3 turns)
    moments = [second for second, _ in turns] + [30]
    assert all(later - earlier <= 10 for earlier, later in itertools.pairwise(moments)), turns  # no page over 10 s
    assert [shown for _, shown in turns][:pages] == [f"{n}/{pages}" for n in range(1, pages + 1)], turns
    expect(page.locator("#board-page")).to_be_visible()

    # A call made now is on the first page at once, highlighted, and only for a few seconds.
    called = next(call for call in snapshot["calling"] if call["station"] == "consent")
    visit = next(row for row in api.get("/sites/demo/visits", state="called").json["visits"]
                 if row["ticket"] == called["ticket"])
    announced = int(page.locator("#display").get_attribute("data-announced") or 0)
    assert api.post(f"/sites/demo/visits/{visit['id']}/recall").status == 200
    fresh = page.locator("#calls li.fresh")
    expect(fresh).to_have_count(1)
    expect(fresh.locator(".ticket")).to_have_text(called["ticket"])
    expect(page.locator("#display")).to_have_attribute("data-announced", str(announced + 1))
    page.clock.run_for(9000)
    expect(fresh).to_have_count(0)
    tv.close()


def test_sound_is_invited_once_per_device_and_again_only_when_the_browser_blocks_it(tv_site, browser):
    # Chromium's default autoplay policy: no sound before a tap on the page.
    tv = Screen(browser, tv_site, size="1280x720")
    page = tv.page
    invitation = page.locator("#sound")
    expect(invitation).to_be_visible()  # first use on this device
    invitation.click()
    expect(invitation).to_be_hidden()
    expect(page.locator("#display")).to_have_attribute("data-audio", "running")  # unlocked inside the tap
    assert page.evaluate("localStorage.getItem('siteflow.display.sound')") == "on"
    page.reload()  # from the browser (F5, a restart): Chromium wants a new tap before it plays sound
    expect(page.locator("#display")).to_have_attribute("data-audio", "suspended")
    expect(invitation).to_be_visible()  # so the TV asks again rather than call in silence
    assert page.evaluate("localStorage.getItem('siteflow.display.sound')") == "on"

    # A kiosk TV (docs/DESIGN.md: --autoplay-policy=no-user-gesture-required): tapped once, never asked again.
    kiosk_browser = browser.browser_type.launch(executable_path=CHROMIUM, args=[*ARGS, "--autoplay-policy=no-user-gesture-required"])
    try:
        kiosk = Screen(kiosk_browser, tv_site, size="1280x720")
        expect(kiosk.page.locator("#sound")).to_be_visible()
        kiosk.page.locator("#sound").click()
        expect(kiosk.page.locator("#sound")).to_be_hidden()
        kiosk.page.reload()
        expect(kiosk.page.locator("#display")).to_have_attribute("data-audio", "running")
        kiosk.page.wait_for_timeout(1500)  # past the check that the browser let the audio start
        expect(kiosk.page.locator("#sound")).to_be_hidden()
        kiosk.close()
    finally:
        kiosk_browser.close()

    # Calls are spoken only by the device's own voices (offline); none for a language: the chime alone.
    chosen = page.evaluate("""async () => {
      const { Announcer } = await import("/static/js/announcer.js");
      const voice = (name, lang, localService) => ({ name, lang, localService });
      window.speechSynthesis.getVoices = () => [voice("Cloud zh", "zh-CN", false), voice("Local zh", "zh_CN", true),
                                                voice("Cloud en", "en-GB", false)];
      const announcer = new Announcer(["zh", "en"], {}, document.createElement("div"));
      return [announcer.voice("zh")?.name ?? null, announcer.voice("en")?.name ?? null];
    }""")
    assert chosen == ["Local zh", None]
    tv.close()


def test_the_city_clock_shows_the_sites_time_and_zone_not_the_browsers(tv_site, browser):
    process, api, _ = tv_site
    context = browser.new_context(viewport={"width": 1366, "height": 768}, timezone_id=BROWSER_ZONE)
    page = context.new_page()
    page.goto(f"{process.url}/login?lang=en")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    page.goto(f"{process.url}/city")
    clock = page.locator(".zone-clock")
    expect(clock).to_have_count(1)  # one site, one zone
    expect(clock).to_have_attribute("title", "Asia/Shanghai")
    expect(clock).to_contain_text("China Standard Time")
    expect(page.locator("#updated")).not_to_be_empty()
    at = api.get("/sites/demo/snapshot").json["at"]
    shown = clock.inner_text()
    assert shown[:5] in (_hhmm(at, -1), _hhmm(at), _hhmm(at, 1)), (shown, at)
    assert page.locator("#updated").inner_text()[:5] in (_hhmm(at, -1), _hhmm(at), _hhmm(at, 1))
    page.screenshot(path=str(SCREENSHOTS / "city-en.png"))
    context.close()
