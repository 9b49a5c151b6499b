"""The sign-in, pairing, display and account pages in a real Chromium against a real server:
a TV pairs itself without a keyboard, and markup typed as names shows as text, never runs.

Screenshots go to tests/browser/__screenshots__/ (git-ignored) for a person to look at."""
from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api

from tests.browser.conftest import SCREENSHOTS
from tests.support.factories import gen_checkin
from tests.support.live_servers import ServerProcess, create_token, free_port, init_database, run_cli, server_env

ADMIN_PASSWORD = "browser-admin-1"
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(1)</script>'


def _start(tmp_path, **settings: str):
    env = server_env(database_url=f"sqlite:///{tmp_path / 'siteflow.db'}")
    env.update(SITEFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, SITEFLOW_INSTANCE_PATH=str(tmp_path / "instance"), **settings)
    init_database(env)
    added = run_cli(env, "users", "add", "xss", "--role", "site_supervisor", "--site", "demo", "--name", SCRIPT)
    xss_password = added.strip().splitlines()[-1].strip()
    token = create_token(env, "admin")
    process = ServerProcess(env, free_port()).spawn()
    process.wait_ready()
    return process, token, xss_password


@pytest.fixture
def server(tmp_path):
    started = _start(tmp_path)
    yield started
    started[0].stop()


@pytest.fixture
def impatient_server(tmp_path):
    started = _start(tmp_path, SITEFLOW_IDLE_MINUTES="0.05")  # 3 seconds
    yield started
    started[0].stop()


class Watched:
    """A page whose dialogs (an alert means injected script ran) and console errors are recorded."""

    def __init__(self, context):
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"script ran: {self.dialogs}"
        real = [error for error in self.errors if "favicon" not in error]
        assert real == [], real  # CSP violations are console errors too


def _sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")


def _post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def test_a_tv_pairs_itself_shows_names_as_text_and_goes_back_to_pairing_when_unpaired(server, browser):
    process, token, _ = server
    tv = Watched(browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN"))
    tv.page.goto(f"{process.url}/pair")
    code_el = tv.page.locator("#pair-code")
    playwright_api.expect(code_el).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}$"), timeout=10_000)
    code = code_el.inner_text()
    assert "配对此显示屏" in tv.page.content()  # the TV speaks Chinese by its browser's language
    tv.page.screenshot(path=str(SCREENSHOTS / "pair.png"))

    admin = Watched(browser.new_context(viewport={"width": 1366, "height": 768}))
    _sign_in(admin.page, process.url, "admin", ADMIN_PASSWORD)
    admin.page.goto(f"{process.url}/devices")
    admin.page.fill("input[name=code]", code)
    admin.page.fill("input[name=label]", IMG)
    admin.page.click("form[action='/devices/pair'] button[type=submit]")
    playwright_api.expect(admin.page.locator(".notice")).to_contain_text("Display paired")

    tv.page.wait_for_url(re.compile(r"/display$"), timeout=15_000)
    admin.page.goto(f"{process.url}/devices")  # listed once the TV has collected its credential
    playwright_api.expect(admin.page.locator("table")).to_contain_text(IMG)  # the text, not an image
    assert admin.page.locator("main img").count() == 0
    admin.page.screenshot(path=str(SCREENSHOTS / "devices.png"), full_page=True)
    playwright_api.expect(tv.page.locator("#site-name")).to_have_text(IMG, timeout=10_000)
    assert tv.page.locator("img").count() == 0
    counts = tv.page.locator("#counts")
    playwright_api.expect(counts).to_contain_text("0 人等候", timeout=10_000)
    _post(f"{process.url}/api/v1/sites/demo/visits", token, gen_checkin(name=IMG))
    playwright_api.expect(counts).to_contain_text("1 人等候", timeout=5_000)  # pushed, no reload
    assert IMG not in tv.page.locator("#counts").inner_text()  # and never a name on a display
    tv.page.screenshot(path=str(SCREENSHOTS / "display.png"))
    # Unpaired while it is showing: its open socket is closed, and it shows its pairing screen.
    admin.page.goto(f"{process.url}/devices")
    admin.page.locator("tr", has_text=IMG).get_by_role("button", name="Unpair").click()
    tv.page.wait_for_url(re.compile(r"/pair$"), timeout=5_000)
    playwright_api.expect(code_el).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}$"), timeout=10_000)
    tv.assert_clean()
    admin.assert_clean()


def test_markup_in_a_staff_name_is_shown_as_text(server, browser):
    process, _, xss_password = server
    person = Watched(browser.new_context())
    _sign_in(person.page, process.url, "xss", xss_password)
    person.page.wait_for_url(re.compile(r"/account/password"))  # a generated password is replaced first
    playwright_api.expect(person.page.locator(".who")).to_contain_text(SCRIPT)
    person.page.fill("input[name=current_password]", xss_password)
    person.page.fill("input[name=new_password]", "a-new-password-9")
    person.page.fill("input[name=repeat_password]", "a-new-password-9")
    person.page.click("button[type=submit].primary")
    person.page.wait_for_url(re.compile(r"/$"))
    playwright_api.expect(person.page.locator("h1")).to_contain_text(SCRIPT)
    person.page.goto(f"{process.url}/audit")
    playwright_api.expect(person.page.locator("table.audit")).to_contain_text("password changed")  # auth.password_changed, named
    person.page.screenshot(path=str(SCREENSHOTS / "audit.png"), full_page=True)
    person.assert_clean()


def test_a_wrong_password_shows_a_message_and_the_sixth_in_a_minute_says_when_to_retry(server, browser):
    process, _, _ = server
    page = Watched(browser.new_context()).page
    for attempt in range(5):
        _sign_in(page, process.url, "admin", f"wrong-{attempt}")
        playwright_api.expect(page.locator(".error")).to_contain_text("Wrong username or password")
    _sign_in(page, process.url, "admin", ADMIN_PASSWORD)
    playwright_api.expect(page.locator(".error")).to_contain_text("Too many wrong attempts. Try again in 1 minute.")


def test_an_idle_tablet_signs_itself_out_and_says_why(impatient_server, browser):
    process, _, _ = impatient_server
    tablet = Watched(browser.new_context())
    _sign_in(tablet.page, process.url, "admin", ADMIN_PASSWORD)
    tablet.page.wait_for_url(re.compile(r"/$"))
    assert tablet.page.locator("body").get_attribute("data-idle-seconds") == "3"
    tablet.page.wait_for_url(re.compile(r"/login\?idle=1$"), timeout=10_000)  # nobody touched it
    playwright_api.expect(tablet.page.locator(".notice")).to_contain_text("signed out after a period of inactivity")
    assert tablet.page.request.get(f"{process.url}/api/v1/me").status == 401
    tablet.assert_clean()
