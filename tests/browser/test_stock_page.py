"""The supervisor's stock page (issue 19) in Debian's Chromium against a real server, in Chinese: a
site supervisor records a delivery (an expired one first, refused beside its field with the form
kept), the closing counts with a lot short, is refused the closing with the lot named, explains the
difference and closes the day. The page shows no English word but names and codes, and is never
wider than the screen at 1280×800 or 800×1280. Screenshots go to tests/browser/__screenshots__/."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.support.english import english
from tests.support.live_servers import Api, ServerProcess, create_token, free_port, init_database, run_cli, server_env

PASSWORD = "stock-supervisor-1"
ZONE = ZoneInfo("Asia/Shanghai")  # sites/demo.toml
LOT = "ZH2612A"


@pytest.fixture
def site(tmp_path):
    env = server_env(database_url=f"sqlite:///{tmp_path / 'siteflow.db'}")
    env.update(SITEFLOW_ADMIN_PASSWORD="browser-admin-1", SITEFLOW_INSTANCE_PATH=str(tmp_path / "instance"),
               SITEFLOW_IDLE_MINUTES="600")
    init_database(env)
    added = run_cli(env, "users", "add", "wang", "--role", "site_supervisor", "--site", "demo")
    process = ServerProcess(env, free_port(), log_dir=tmp_path).spawn()
    process.wait_ready()
    process.first_password = added.strip().splitlines()[-1].strip()
    yield process, Api(process.url, create_token(env, "admin"))
    process.stop()


def _signed_in(browser, process):
    """The supervisor's first sign-in: the generated password is replaced, as at a real one."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{process.url}/login?lang=zh_Hans")
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", process.first_password)
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/account/password"))
    page.fill("input[name=current_password]", process.first_password)
    page.fill("input[name=new_password]", PASSWORD)
    page.fill("input[name=repeat_password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    return context, page, errors


def _fits(page, width: int) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= width, f"the page is {wide}px wide on a {width}px screen"


def _no_english(page) -> None:
    words = english(page.locator("body").inner_text(), allowed=frozenset({"wang"}))  # the username: data
    assert words == [], f"English on the Chinese stock page: {words}"


def _shot(page, name: str, *, full: bool = False) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full)


def test_a_supervisor_receives_counts_explains_and_closes_the_day_in_chinese(site, browser):
    process, api = site
    context, page, errors = _signed_in(browser, process)
    page.click("a[href='/sites/demo/stock']")  # from the start page
    expect(page.locator("h1")).to_contain_text("疫苗库存")
    expect(page.locator("#stock-status")).to_have_text("尚未日结。")
    _no_english(page)

    # A delivery of an expired lot: refused beside its field, everything entered still there.
    today = datetime.now(ZONE).date()
    form = page.locator("#receive-form")
    form.locator("select[name=product]").select_option("coronavac")
    form.locator("input[name=lot]").fill(LOT)
    form.locator("input[name=expires_on]").fill((today - timedelta(days=1)).isoformat())
    form.locator("input[name=doses_per_vial]").fill("1")
    form.locator("input[name=vials]").fill("30")
    form.locator("button[type=submit]").click()
    error = page.locator("#error-receive-expires_on")
    expect(error).to_have_text("此批号已过期：过期疫苗不能入库。")
    expect(page.locator("#receive-form input[name=expires_on]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#receive-form input[name=lot]")).to_have_value(LOT)
    expect(page.locator("#receive-form input[name=vials]")).to_have_value("30")
    expect(page.locator(f"#stock-sheet tr[data-lot={LOT}]")).to_have_count(0)
    page.locator("#receive").scroll_into_view_if_needed()
    _shot(page, "stock-refused-1280x800-zh")
    _no_english(page)

    # Corrected and recorded: the lot's line appears.
    page.locator("#receive-form input[name=expires_on]").fill((today + timedelta(days=365)).isoformat())
    page.locator("#receive-form button[type=submit]").click()
    expect(page.locator(".notice")).to_have_text(f"已记录入库：批号 {LOT}，30 剂。")
    row = page.locator(f"#stock-sheet tr[data-lot={LOT}]")
    expect(row.locator("td.left")).to_have_text("30")

    # The closing counts: every lot prefilled with its books; this one is short by one dose.
    count = page.locator(f"#count-form input[name=count-{LOT}]")
    expect(count).to_have_value("30")
    count.fill("29")
    page.locator("#count-form button[type=submit]").click()
    expect(page.locator(".notice")).to_contain_text("闭馆盘点")
    expect(row.locator("td.counted")).to_have_text("29")
    expect(row.locator("td.difference")).to_have_class(re.compile(r"unexplained"))
    expect(page.locator("#stock-unexplained")).to_contain_text(LOT)

    # Closing: refused, the lot named with its difference.
    page.locator("#close-form button[type=submit]").click()
    expect(page.locator("#close-refused")).to_contain_text(f"批号 {LOT}：差异 -1 剂尚未说明。")
    page.locator("#close").scroll_into_view_if_needed()
    _shot(page, "stock-close-refused-1280x800-zh")
    _no_english(page)

    # Explained, then closed.
    page.locator(f"form.explain[data-lot={LOT}] input[name=explanation]").fill("一支疫苗在转运中破损")
    page.locator(f"form.explain[data-lot={LOT}] button[type=submit]").click()
    expect(row.locator("td.difference")).to_contain_text("一支疫苗在转运中破损")
    page.locator("#close-form button[type=submit]").click()
    expect(page.locator("#stock-status")).to_have_attribute("data-closed", "true")
    expect(page.locator("#stock-status")).to_contain_text("日结")
    expect(page.locator("#close-form")).to_have_count(0)
    closed = api.get("/sites/demo/stock").json["closed"]
    assert closed is not None and closed["actor"] == "site_supervisor:wang"
    _no_english(page)
    _fits(page, 1280)
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "stock-1280x800-zh")
    _shot(page, "stock-closed-full-zh", full=True)

    # A tablet held upright, and the English page: nothing wider than the screen.
    page.set_viewport_size({"width": 800, "height": 1280})
    _fits(page, 800)
    # Each lot is a card of labelled figures there: its difference is on screen, not scrolled off.
    difference = page.locator(f"#stock-sheet tr[data-lot={LOT}] td.difference").bounding_box()
    assert difference is not None and difference["x"] + difference["width"] <= 800, difference
    _shot(page, "stock-800x1280-zh")
    page.goto(f"{process.url}/sites/demo/stock?lang=en")
    expect(page.locator("#stock-status")).to_contain_text("Closed at")
    _fits(page, 800)
    _shot(page, "stock-800x1280-en")
    assert errors == []
    context.close()
