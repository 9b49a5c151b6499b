"""The supervisors' and admins' pages in Chromium against a real server: in Chinese they show no
English word (but names and codes), their times are in the site's time zone; the add-user form
fits a portrait tablet; the language links are finger-sized; a newly paired TV appears in the
Displays list without a reload. Screenshots go to tests/browser/__screenshots__/ (git-ignored)."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.support.english import english as _english
from tests.support.factories import gen_answers, gen_checkin, gen_consent, gen_injection
from tests.support.live_servers import Api, ServerProcess, create_token, free_port, init_database, server_env

PASSWORD = "browser-admin-1"
SITE_ZONE = ZoneInfo("Asia/Shanghai")  # sites/demo.toml

PAGES = {  # path: what shows once the page has its figures
    "/": "main h1",
    "/sites/demo/dashboard": "#outcomes dt",
    "/users": "main table tbody tr",
    "/devices": "#displays tbody tr",
    "/account/sessions": "#sessions tbody tr",
    "/audit": "table.audit tbody tr",
    "/sites/demo/reports/daily": "article h1",
    "/sites/demo/stock": "#stock-sheet tbody tr",
    "/sites/demo/slips": "ul.tickets li",
    "/city": "#sites tbody tr",
    "/account/password": "main form",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server with a morning's worth of everything the pages show: deferrals, a dose, an adverse
    event, people still waiting, a paired display. The API token is named in Chinese: it is the
    vaccinator the dashboard lists."""
    folder = tmp_path_factory.mktemp("admin-pages")
    env = server_env(database_url=f"sqlite:///{folder / 'siteflow.db'}")
    env.update(SITEFLOW_ADMIN_PASSWORD=PASSWORD, SITEFLOW_INSTANCE_PATH=str(folder / "instance"))
    init_database(env)
    api = Api("", create_token(env, "admin", name="接种员甲"))
    create_token(env, "display", site="demo", name="大厅屏")
    process = ServerProcess(env, free_port(), log_dir=folder).spawn()
    process.wait_ready()
    api.base_url = process.url
    people = [api.post("/sites/demo/visits", gen_checkin()).json["visit"] for _ in range(5)]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "A"})
    api.post(f"/sites/demo/visits/{people[0]['id']}/consent", gen_consent("A"))
    api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    deferred = api.post(f"/sites/demo/visits/{people[1]['id']}/consent",
                        gen_consent("B", outcome="deferred", deferral_reason="fever", answers=gen_answers(fever=True)))
    assert deferred.status == 200, deferred.json
    api.post("/sites/demo/stations/injection/call-next", {"desk": "1"})
    assert api.post(f"/sites/demo/visits/{people[0]['id']}/injection", gen_injection("1")).status == 200
    aefi = api.post(f"/sites/demo/visits/{people[0]['id']}/aefi", {
        "symptoms": ["dizziness"], "onset_at": datetime.now(SITE_ZONE).isoformat(), "severity": "minor"})
    assert aefi.status == 200, aefi.json
    yield process
    process.stop()


def _signed_in(browser, base: str, lang: str, viewport=(1366, 900)):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/login?lang={lang}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    return context, page, errors


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_every_supervisor_page_in_chinese_shows_no_english_and_site_times(site, browser):
    context, page, errors = _signed_in(browser, site.url, "zh_Hans")
    found = {}
    for path, ready in PAGES.items():
        page.goto(f"{site.url}{path}")
        expect(page.locator(ready).first).to_be_visible(timeout=10_000)
        if path == "/sites/demo/dashboard":
            expect(page.locator("#projection")).not_to_be_empty()
        text = page.locator("body").inner_text()
        if words := _english(text):
            found[path] = words
        _shot(page, "zh" + (path.replace("/", "-").rstrip("-") or "-home"))
    assert found == {}, f"English on Chinese pages (translate them, or allow-list a name or code): {found}"

    # Times are the site's, and say so.
    page.goto(f"{site.url}/account/sessions")
    signed_in = page.locator("#sessions tbody tr").first.locator("time").first.inner_text()
    shown = datetime.strptime(signed_in, "%Y-%m-%d %H:%M").replace(tzinfo=SITE_ZONE)
    assert abs((datetime.now(SITE_ZONE) - shown).total_seconds()) < 300, signed_in
    expect(page.locator("#sessions thead")).to_contain_text("中国时间")
    expect(page.locator("#sessions tbody tr").first).to_contain_text("电脑（Linux）上的 Chrome")
    page.goto(f"{site.url}/sites/demo/reports/daily")
    generated = re.search(r"生成于 (\S+ \S+)（中国时间）", page.locator("article").inner_text())
    assert generated, page.locator("article").inner_text()[:300]
    moment = datetime.strptime(generated.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=SITE_ZONE)
    assert abs((datetime.now(SITE_ZONE) - moment).total_seconds()) < 300
    for path in ("/audit", "/devices"):
        page.goto(f"{site.url}{path}")
        expect(page.locator("main table thead")).to_contain_text("中国时间")
    assert errors == []
    context.close()


def test_the_add_user_form_fits_a_portrait_tablet_and_the_language_links_are_finger_sized(site, browser):
    context, page, errors = _signed_in(browser, site.url, "en", viewport=(800, 1280))
    for lang in ("en", "zh_Hans"):
        page.goto(f"{site.url}/users?lang={lang}")
        expect(page.locator("select[name=role]")).to_have_value("station")  # the least privileged role
        wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wide <= 0, f"{lang}: the page scrolls sideways by {wide}px at 800 px wide"
        for link in page.locator("nav.lang a").all():
            box = link.bounding_box()
            assert box["width"] >= 48 and box["height"] >= 48, (link.inner_text(), box)
        _shot(page, f"users-portrait-{lang}")
    assert errors == []
    context.close()


def test_a_newly_paired_tv_appears_in_the_displays_list_without_a_reload(site, browser):
    tv = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    tv.goto(f"{site.url}/pair")
    code = tv.locator("#pair-code")
    expect(code).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}$"), timeout=10_000)
    context, page, errors = _signed_in(browser, site.url, "en")
    page.goto(f"{site.url}/devices")
    page.fill("input[name=code]", code.inner_text())
    page.fill("input[name=label]", "Hall B screen")
    page.click("form[action='/devices/pair'] button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("Display paired")
    # The TV collects its credential a moment later; the list follows without a reload.
    page.evaluate("window.stillThisPage = true")
    expect(page.locator("#displays")).to_contain_text("Hall B screen", timeout=15_000)
    assert page.evaluate("window.stillThisPage === true")
    row = page.locator("#displays tr", has_text="Hall B screen")
    expect(row).to_contain_text("Both, alternating")
    expect(row).to_contain_text("Administrator admin")
    _shot(page, "devices-paired-en")
    tv.wait_for_url(re.compile(r"/display$"), timeout=10_000)
    assert errors == []
    context.close()
    tv.context.close()
