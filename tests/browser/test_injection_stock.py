"""The injection tablet and the vaccine stock (issue 19, part 2), in Debian's Chromium against a
real server: the lots offered are the lots the site holds (a delivery recorded through the API is
offered at once), this booth's open vials with their doses and time left, opening and discarding
a vial, and an empty lot refused by name with the form kept; in Chinese and English, at 1280×800
and 800×1280.

The server's clock runs 10 times faster, and ZF2001's opened vials last 11 minutes here, so a
countdown turns red within seconds. Screenshots go to tests/browser/__screenshots__/."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.test_station_pages import ADMIN_PASSWORD, STATIONS, Tablet, nurse_ready
from tests.browser.test_tablet_layout import _close_open_visits, in_reach, shot
from tests.support.english import english
from tests.support.factories import gen_checkin, gen_consent, gen_injection
from tests.support.live_servers import Api, ServerProcess, create_token, free_port, init_database, run_cli, server_env

ROOT = Path(__file__).resolve().parents[2]
MULTI = "202609B2114"  # bbibp-corv, 2 doses a vial, 360 minutes once open
ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo site on a clock 10 times faster, its ZF2001 vials kept 11 minutes once open; a nurse."""
    folder = tmp_path_factory.mktemp("stock")
    sites = folder / "sites"
    sites.mkdir()
    config = (ROOT / "sites" / "demo.toml").read_text()
    zf2001 = 'specification = "0.5 mL per vial, 25 µg"\nroute = "IM"\n'
    assert zf2001 in config
    config = config.replace(zf2001, zf2001 + "open_vial_minutes = 11\n")
    # A product whose opened vials last one minute (6 s on this clock): a vial seen to expire.
    config += ('\n[[products]]\ncode = "brief"\nname = "Brief test vaccine"\nname_zh = "短时测试疫苗"\n'
               'manufacturer = "Test"\nspecification = "0.5 mL, 5 doses a vial"\nroute = "IM"\n'
               'open_vial_minutes = 1\n\n  [[products.lots]]\n  lot = "BRIEF1"\n  expires_on = 2027-12-31\n')
    (sites / "demo.toml").write_text(config)
    env = server_env(database_url=f"sqlite:///{folder / 'siteflow.db'}", sites=sites)
    env.update(SITEFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, SITEFLOW_INSTANCE_PATH=str(folder / "instance"),
               SITEFLOW_IDLE_MINUTES="600")
    init_database(env)
    env["SITEFLOW_CLOCK_SPEED"] = "10"
    added = run_cli(env, "users", "add", "nurse", "--role", "station", "--site", "demo",
                    *[arg for station in STATIONS for arg in ("--station", station)])
    token = create_token(env, "admin")
    process = ServerProcess(env, free_port(), log_dir=folder).spawn()
    process.wait_ready()
    process.first_password = added.strip().splitlines()[-1].strip()
    yield process, Api(process.url, token)
    process.stop()


def _consented(api: Api) -> dict:
    """Someone waiting at injection."""
    visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    assert api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent(desk="B")).status == 200
    return visit


def _call_and_fill(page, api: Api) -> dict:
    """The next person called to the tablet's booth, the checklist ticked, the left arm."""
    person = _consented(api)
    page.click("#call-next")
    expect(page.locator("#current-ticket")).to_have_text(person["ticket"])
    for item in page.locator("#checklist input").all():
        item.check()
    page.check("input[name=arm][value=left_deltoid]")
    return person


def _confirm(page, person: dict) -> None:
    page.click("#confirm")
    expect(page.locator("#done-text")).to_contain_text(f"{person['ticket']} ")


def _lot(api: Api, name: str) -> dict | None:
    return next((lot for lot in api.get("/sites/demo/stock/lots").json["lots"] if lot["lot"] == name), None)


def _scan(page, code: str) -> None:
    page.locator("#vial").press_sequentially(code)
    page.keyboard.press("Enter")


def test_a_lot_received_through_the_api_is_offered_at_once_and_an_empty_one_is_refused_by_name(nurse_ready, browser):
    process, api = nurse_ready
    _close_open_visits(api)
    tablet = Tablet(browser, process.url)
    page = tablet.open("injection", desk="2")
    person = _call_and_fill(page, api)
    page.select_option("#product", "zf2001")
    offered = page.locator("#lot option[value=ZAPI2027]")
    expect(offered).to_have_count(0)
    received = api.post("/sites/demo/stock/receipts", {"product": "zf2001", "lot": "ZAPI2027",
                                                       "expires_on": "2027-12-31", "doses_per_vial": 1, "vials": 2})
    assert received.status == 201, received.json
    # Not in the site file: offered as soon as the delivery is recorded, with its doses.
    expect(offered).to_have_text("ZAPI2027 · 2027-12-31 · 2 doses left", timeout=3_000)
    _scan(page, "ZAPI2027")  # no barcode: the lot number typed (or scanned) selects it
    expect(page.locator("#lot")).to_have_value("ZAPI2027")
    expect(page.locator("#lot-info")).to_contain_text("lot ZAPI2027")
    _confirm(page, person)
    expect(offered).to_have_text("ZAPI2027 · 2027-12-31 · 1 dose left")
    assert _lot(api, "ZAPI2027")["doses"] == 1

    # The expired lot of the site file is not offered; its barcode is still refused by name.
    person = _call_and_fill(page, api)
    page.select_option("#product", "coronavac")
    expect(page.locator("#lot")).to_have_value("202610A127")
    expect(page.locator("#lot option[value='202604A033']")).to_have_count(0)
    _scan(page, "6970012340019")
    expect(page.locator("#message")).to_contain_text("Lot 202604A033 expired on 2026-10-31")

    # The last dose goes while this tablet cannot hear of it (its stock reads fail): the injection
    # is refused by name, and nothing entered is lost.
    _scan(page, "ZAPI2027")
    expect(page.locator("#lot")).to_have_value("ZAPI2027")
    page.route("**/stock/lots", lambda route: route.abort())
    wasted = api.post("/sites/demo/stock/waste", {"lot": "ZAPI2027", "doses": 1, "reason": "broken"})
    assert wasted.status == 201, wasted.json
    page.click("#confirm")
    expect(page.locator("#lot-info")).to_have_text("Lot ZAPI2027 has no doses left: choose another lot.")
    expect(page.locator("#message")).to_contain_text("Lot ZAPI2027 has no doses left")
    expect(page.locator("#lot")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#lot")).to_have_value("ZAPI2027")
    expect(page.locator("#product")).to_have_value("zf2001")
    assert page.locator("#checklist input:checked").count() == page.locator("#checklist input").count()
    expect(page.locator("input[name=arm][value=left_deltoid]")).to_be_checked()
    tablet.shot("injection-lot-empty-en")
    # Heard again: the lot stays shown as empty (not to be chosen); another lot is chosen and used.
    page.unroute("**/stock/lots")
    api.post("/sites/demo/stock/receipts", {"product": "zf2001", "lot": "ZAPI2028", "expires_on": "2028-01-31",
                                            "doses_per_vial": 1, "vials": 1})
    expect(offered).to_have_text("ZAPI2027 · no doses left")
    assert offered.is_disabled()
    page.select_option("#lot", "ZAPI2028")
    expect(page.locator("#lot")).not_to_have_attribute("aria-invalid", "true")
    _confirm(page, person)
    assert _lot(api, "ZAPI2028") is None  # its only dose given: the site holds none
    tablet.assert_clean()


def test_this_booths_open_vials_count_down_their_doses_and_time_and_are_opened_and_discarded(nurse_ready, browser):
    process, api = nurse_ready
    _close_open_visits(api)
    tablet = Tablet(browser, process.url)
    page = tablet.open("injection", desk="1")
    vials = page.locator("#vials li.vial")
    open_button = page.locator(f"#vial-actions button.open-vial[data-lot='{MULTI}']")
    expect(page.locator("#vials-none")).to_have_text("No vial is open at this booth.")
    expect(open_button).to_have_text(f"Open a vial of lot {MULTI}")

    # The first injection from the multi-dose lot opens a vial at this booth.
    person = _call_and_fill(page, api)
    page.select_option("#product", "bbibp-corv")
    expect(page.locator("#lot")).to_have_value(MULTI)  # the one lot of the product held
    _confirm(page, person)
    expect(vials).to_have_count(1)
    vial = _lot(api, MULTI)["open_vials"][0]
    assert vial["desk"] == "1" and vial["doses_left"] == 1
    discard_at = datetime.fromisoformat(vial["discard_at"]).astimezone(ZONE).strftime("%H:%M")
    expect(vials.first).to_contain_text(f"Vial {vial['vial']}")
    expect(vials.first).to_contain_text("1 dose left")
    expect(vials.first).to_contain_text(f"discard at {discard_at}")
    countdown = vials.first.locator(".countdown")
    expect(countdown).to_have_text(re.compile(r"^[56]:\d\d left$"))
    expect(vials.first).to_have_attribute("data-level", "ok")
    expect(open_button).to_have_count(0)  # one open here already
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=10_000)  # a server minute is 6 s here

    # Another booth's vials, compactly; the next dose here (recorded elsewhere: the API) empties this one.
    assert api.post("/sites/demo/stock/vials", {"lot": MULTI, "desk": "5"}).status == 201
    expect(page.locator("#vials-elsewhere")).to_have_text("Open at other booths: 1 · doses left: 2")
    other = _consented(api)
    api.post("/sites/demo/stations/injection/call-next", {"desk": "1"})
    done = api.post(f"/sites/demo/visits/{other['id']}/injection",
                    gen_injection(desk="1", product="bbibp-corv", lot=MULTI))
    assert done.status == 200, done.json
    expect(vials).to_have_count(0)
    expect(page.locator("#vials-none")).to_be_visible()

    # "Open a vial": 2 doses, then 1 after this tablet's injection.
    open_button.click()
    expect(vials).to_have_count(1)
    expect(vials.first).to_contain_text("2 doses left")
    expect(page.locator("#message")).to_contain_text(f"of lot {MULTI} opened")
    person = _call_and_fill(page, api)
    page.select_option("#product", "bbibp-corv")
    expect(page.locator("#lot-info")).to_contain_text("2 doses left")  # the booth's vial, beside the lot
    _confirm(page, person)
    expect(vials.first).to_contain_text("1 dose left")
    page.set_viewport_size({"width": 1280, "height": 800})
    shot(page, "injection-stock-1280x800-en")
    page.set_viewport_size({"width": 800, "height": 1280})
    shot(page, "injection-stock-800x1280-en")
    page.set_viewport_size({"width": 1280, "height": 800})

    # "Discard vial…": a reason is needed; then its last dose is waste and the panel is empty.
    number = _lot(api, MULTI)["open_vials"][-1]["vial"]
    vials.first.locator("button.discard-vial").click()
    dialog = page.locator("#discard-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#discard-title")).to_have_text(f"Discard vial {number} of lot {MULTI} (1 dose left)")
    page.click("#discard-confirm")
    expect(page.locator("#discard-error")).to_have_text("Choose the reason first.")
    dialog.locator("input[name=reason][value=contaminated]").check()
    page.click("#discard-confirm")
    expect(dialog).to_be_hidden()
    expect(vials).to_have_count(0)
    expect(page.locator("#message")).to_contain_text(f"Waste recorded: lot {MULTI}, doses: 1.")
    sheet = next(row for row in api.get("/sites/demo/stock").json["lots"] if row["lot"] == MULTI)
    assert sheet["wasted_by_reason"]["contaminated"] == 1
    assert [vial["desk"] for vial in _lot(api, MULTI)["open_vials"]] == ["5"]

    # A refusal is said beside the panel's buttons: here the tablet had not heard of a vial opened
    # at its booth meanwhile (its stock reads fail), so it offers to open another.
    page.route("**/stock/lots", lambda route: route.abort())
    assert api.post("/sites/demo/stock/vials", {"lot": MULTI, "desk": "1"}).status == 201
    expect(page.locator("#vials-error")).to_have_text("The stock could not be read: the lists may be out of date.")
    page.unroute("**/stock/lots")
    open_button.click()
    expect(page.locator("#vials-error")).to_have_text(
        "Not done: A vial of this lot is already open at this booth: use it, or discard it first.")
    expect(vials).to_have_count(1)  # read again after the refusal, which stays said
    expect(page.locator("#vials-error")).to_be_visible()
    expect(open_button).to_have_count(0)

    # A short-lived vial (11 minutes): amber under 30 minutes, red under 10.
    api.post("/sites/demo/stock/receipts", {"product": "zf2001", "lot": "ZM2027", "expires_on": "2027-12-31",
                                            "doses_per_vial": 5, "vials": 2})
    page.locator("#vial-actions button.open-vial[data-lot=ZM2027]").click()
    short = page.locator("#vials li.vial[data-lot=ZM2027]")
    expect(short).to_have_attribute("data-level", "warn")
    expect(short.locator(".countdown")).to_have_text(re.compile(r"^1[01] min left$"))
    expect(short).to_have_attribute("data-level", "bad", timeout=15_000)
    tablet.shot("injection-vial-red-en")
    tablet.assert_clean()


def test_an_open_vial_expires_on_the_demo_clock_and_its_rest_is_wasted(nurse_ready, browser):
    """A vial opened at the booth runs out of time on the server's (10x) clock: the tablet says so
    and drops it, and the day's sheet counts its doses as wasted, expired_open_vial."""
    process, api = nurse_ready
    _close_open_visits(api)
    assert api.post("/sites/demo/stock/receipts", {"product": "brief", "lot": "BRIEF1", "expires_on": "2027-12-31",
                                                   "doses_per_vial": 5, "vials": 1}).status == 201
    tablet = Tablet(browser, process.url)
    page = tablet.open("injection", desk="3")
    page.locator("#vial-actions button.open-vial[data-lot=BRIEF1]").click()
    vial = page.locator("#vials li.vial[data-lot=BRIEF1]")
    expect(vial).to_contain_text("5 doses left")
    expect(vial).to_have_count(0, timeout=15_000)  # a minute on the site's clock
    line = next(line for line in api.get("/sites/demo/stock").json["lots"] if line["lot"] == "BRIEF1")
    assert (line["wasted_by_reason"]["expired_open_vial"], line["left"], line["open_vials"], line["balanced"]) == (
        5, 0, [], True)
    tablet.assert_clean()


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_stock_panel_in_both_languages_at_both_sizes(nurse_ready, browser, lang):
    process, api = nurse_ready
    _close_open_visits(api)
    for desk in ("4", "6"):  # vials open here and at another booth
        answer = api.post("/sites/demo/stock/vials", {"lot": MULTI, "desk": desk})
        assert answer.status in (201, 409), answer.json
    tablet = Tablet(browser, process.url, lang=lang)
    page = tablet.open("injection", desk="4")
    person = _consented(api)
    page.click("#call-next")
    expect(page.locator("#current-ticket")).to_have_text(person["ticket"])
    page.select_option("#product", "bbibp-corv")
    expect(page.locator("#vials li.vial")).to_have_count(1)
    expect(page.locator("#vials-elsewhere")).to_be_visible()
    suffix = "zh" if lang == "zh_Hans" else "en"
    for width, height in ((1280, 800), (800, 1280)):
        page.set_viewport_size({"width": width, "height": height})
        in_reach(page, "#confirm")
        page.locator("#vials li.vial button.discard-vial").scroll_into_view_if_needed()
        in_reach(page, "#vials li.vial button.discard-vial")  # not under the action bar, big enough
        page.locator("#vials-card").scroll_into_view_if_needed()
        shot(page, f"injection-vials-{width}x{height}-{suffix}")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.locator("#vials li.vial button.discard-vial").click()
    expect(page.locator("#discard-dialog")).to_be_visible()
    if lang == "zh_Hans":
        body = page.locator("body").inner_text()
        assert english(body) == [], "English left on the Chinese injection page"
        expect(page.locator("#vials li.vial")).to_contain_text("剩余")
    page.locator("#discard-dialog input[name=reason][value=broken]").check()
    shot(page, f"injection-discard-{suffix}")
    page.click("#discard-confirm")
    expect(page.locator("#vials li.vial")).to_have_count(0)
    api.post(f"/sites/demo/visits/{person['id']}/cancel", {"reason": "test over"})
    tablet.assert_clean()
