"""The supervisor dashboard and the city overview in Chromium against a real server: counts
move within a second of an action; the report downloads as XLSX. Screenshots go to
tests/browser/__screenshots__/."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.support.factories import gen_checkin, gen_consent, gen_injection
from tests.support.live_servers import Api, ServerProcess, create_token, free_port, init_database, server_env

PASSWORD = "browser-admin-1"


@pytest.fixture
def site(tmp_path):
    env = server_env(database_url=f"sqlite:///{tmp_path / 'siteflow.db'}")
    env.update(SITEFLOW_ADMIN_PASSWORD=PASSWORD, SITEFLOW_INSTANCE_PATH=str(tmp_path / "instance"))
    init_database(env)
    token = create_token(env, "admin")
    process = ServerProcess(env, free_port(), log_dir=tmp_path).spawn()
    process.wait_ready()
    yield process, Api(process.url, token)
    process.stop()


def _signed_in(browser, base):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    return context, page, errors


def test_the_dashboard_follows_the_site_within_a_second_and_names_the_bottleneck(site, browser):
    process, api = site
    context, page, errors = _signed_in(browser, process.url)
    page.goto(f"{process.url}/sites/demo/dashboard")
    consent_row = page.locator("#stations tbody tr", has_text="Consent")
    expect(consent_row).to_be_visible()
    expect(page.locator("#bottleneck")).to_contain_text("No bottleneck")
    people = [api.post("/sites/demo/visits", gen_checkin()).json["visit"] for _ in range(6)]
    expect(consent_row.locator("td").nth(0)).to_have_text("6", timeout=1000)
    api.post("/sites/demo/stations/consent/call-next", {"desk": "A"})
    api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    expect(consent_row.locator("td").nth(1)).to_have_text("2", timeout=1000)
    expect(page.locator("#bottleneck")).to_contain_text("Consent is the bottleneck", timeout=1000)
    api.post(f"/sites/demo/visits/{people[0]['id']}/consent", gen_consent("A"))
    api.post("/sites/demo/stations/injection/call-next", {"desk": "1"})
    done = api.post(f"/sites/demo/visits/{people[0]['id']}/injection", gen_injection("1"))
    assert done.status == 200, done.json
    expect(page.locator("#doses")).to_have_text("1", timeout=1000)
    expect(page.locator("#observation")).to_contain_text("1 of 60 seats", timeout=1000)
    # What if: the rest of today with other desks, simulated on the server.
    expect(page.locator("#what-if-form input[name=seats]")).to_have_value("60")
    page.fill("#what-if-form input[name=consent]", "2")
    page.fill("#what-if-form input[name=injection]", "41")  # more than a what-if tries
    page.click("#what-if-form button")
    expect(page.locator("#what-if-form input[name=injection]:invalid")).to_have_count(1)  # the browser says why
    expect(page.locator("#what-if-result")).to_be_hidden()
    page.fill("#what-if-form input[name=injection]", "8")  # more booths than the site has: allowed
    page.click("#what-if-form button")
    expect(page.locator("#what-if-result")).to_be_visible(timeout=15_000)
    expect(page.locator("#what-if-result")).to_contain_text("Consent 2 · Injection 8")
    # The first column is the dashboard's projection: the same figure.
    projected = page.locator("#projection").inner_text().split(": ")[1].split(" ")[0]
    expect(page.locator("#what-if-result tbody tr", has_text="Doses by closing time").locator("td").first).to_have_text(projected)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-en.png"), full_page=True)

    # The day's report, as a supervisor downloads it.
    with page.expect_download() as download:
        page.click("#xlsx")
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["doses"] == 1 and summary["checked_in"] == 6

    page.goto(f"{process.url}/sites/demo/reports/daily")
    expect(page.locator("article")).to_contain_text("Daily report")
    page.screenshot(path=str(SCREENSHOTS / "report-daily-en.png"), full_page=True)
    page.goto(f"{process.url}/city?lang=zh_Hans")
    row = page.locator("#sites tbody tr[data-site=demo]")
    expect(row).to_contain_text("1 / 1600")
    expect(row.locator("td.rank")).to_have_text("1")
    expect(row.locator("svg.spark")).to_have_count(1, timeout=5000)
    page.screenshot(path=str(SCREENSHOTS / "city-zh.png"), full_page=True)
    page.goto(f"{process.url}/sites/demo/dashboard")
    expect(page.locator("#doses")).to_have_text("1")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-zh.png"), full_page=True)
    assert errors == []
    context.close()


SIZES = ((1280, 800), (800, 1280), (1920, 1080))


def test_the_dashboard_and_city_overview_fit_each_screen_in_both_languages(site, browser):
    """At a laptop's, a portrait tablet's and a TV's size, in Chinese and English: nothing is
    wider than the screen, the what-if's button is reachable, and a bad what-if number shows
    its error on screen. Screenshots for docs/SCREENS.md."""
    process, api = site
    for _ in range(3):
        api.post("/sites/demo/visits", gen_checkin())
    context, page, errors = _signed_in(browser, process.url)
    for lang in ("zh_Hans", "en"):
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{process.url}/sites/demo/dashboard?lang={lang}")
            expect(page.locator("#doses")).to_have_text("0")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{lang} {width}x{height}"
            button = page.locator("#what-if-form button")
            button.scroll_into_view_if_needed()
            box = button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] >= 40
            page.fill("#what-if-form input[name=injection]", "41")
            button.click()
            invalid = page.locator("#what-if-form input[name=injection]:invalid")
            expect(invalid).to_have_count(1)
            expect(invalid).to_be_in_viewport()
            page.fill("#what-if-form input[name=injection]", "8")
            suffix = f"{width}x{height}-{'zh' if lang == 'zh_Hans' else 'en'}"
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(SCREENSHOTS / f"dashboard-{suffix}.png"))
            page.goto(f"{process.url}/city?lang={lang}")
            expect(page.locator("#sites tbody tr[data-site=demo]")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"city {lang} {width}x{height}"
            page.screenshot(path=str(SCREENSHOTS / f"city-{suffix}.png"))
    assert errors == []
    context.close()


def test_the_open_vials_card_appears_with_a_vial_and_follows_the_queue_live(site, browser):
    """The "Open vials" card: hidden while no vial is open; a vial opened at booth 1 shows it with
    the people needed to use it up, and each check-in narrows the shortfall, within a second.
    Screenshot for docs/SCREENS.md."""
    process, api = site
    context, page, errors = _signed_in(browser, process.url)
    page.goto(f"{process.url}/sites/demo/dashboard")
    expect(page.locator("#doses")).to_have_text("0")
    expect(page.locator("#vials-card")).to_be_hidden()
    lot = {"product": "bbibp-corv", "lot": "MD5LOT1", "expires_on": "2099-06-30", "doses_per_vial": 5, "vials": 2}
    assert api.post("/sites/demo/stock/receipts", lot).status == 201
    assert api.post("/sites/demo/stock/vials", {"lot": "MD5LOT1", "desk": "1"}).status == 201
    card = page.locator("#vials-card")
    expect(card).to_be_visible(timeout=1000)
    expect(page.locator("#vials-needed")).to_have_text("5")
    expect(card.locator("#vials tbody tr")).to_have_count(1)
    expect(card.locator("#vials tbody tr td").nth(1)).to_have_text("1")  # the booth
    expect(page.locator("#vials-verdict")).to_contain_text("5 short")
    for _ in range(2):
        api.post("/sites/demo/visits", gen_checkin())
    expect(page.locator("#vials-verdict")).to_contain_text("3 short", timeout=1000)
    expect(page.locator("#vials-queue")).to_contain_text("0 at injection, 2 at consent")
    card.screenshot(path=str(SCREENSHOTS / "dashboard-open-vials-en.png"))
    assert errors == []
    context.close()
