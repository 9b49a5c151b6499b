"""The supervisor's stock page (issue 19): the day's sheet, and forms that run the API's stock
commands. Each form records what the API would; bad input is named beside its field, keeps what was
entered and records nothing; the closing is refused lot by lot until the counts are in and the
differences explained."""
from __future__ import annotations

import html
import re
from datetime import date

from app.domain.permissions import Principal
from app.flow import accounts, stock
from tests.support.api import load_site_variant, snapshot_seq

HTML = {"Accept": "text/html"}
DAY = "2026-11-24"  # the test clock's day at the demo site (09:00 there)
ADMIN = Principal(name="test", role="admin")
DELIVERY = {"product": "coronavac", "lot": "PAGE2611", "expires_on": "2027-06-30", "doses_per_vial": "1",
            "vials": "20"}


def _staff(services, username: str, role: str, *, sites=("demo",), stations=()) -> None:
    account, _ = accounts.create_user(services, actor="test", username=username, display_name=username, role=role,
                                      sites=sites, stations=stations, password="stock-lantern-8")
    services.store.staff.update_user(account.id, at=services.clock.now(), must_change_password=False)


def _sign_in(client, username: str) -> None:
    page = client.get("/login?lang=en", headers=HTML).get_data(as_text=True)
    answer = client.post("/login", data={"username": username, "password": "stock-lantern-8",
                                         "csrf_token": _csrf(page)})
    assert answer.status_code == 302


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _page(client, query: str = "") -> str:
    answer = client.get(f"/sites/demo/stock{query}", headers=HTML)
    assert answer.status_code == 200, html.unescape(answer.get_data(as_text=True))[:500]
    return html.unescape(answer.get_data(as_text=True))


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _sheet_rows(page: str) -> dict[str, list[str]]:
    """The sheet's lines by lot: each cell's text."""
    table = page.split('id="stock-sheet"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-lot="([^"]+)"[^>]*>(.*?)</tr>', table, re.S)
    return {lot: [_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", body, re.S)] for lot, body in rows}


def _post(client, path: str, data: dict, page: str | None = None):
    page = page or _page(client)
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    return client.post(f"/sites/demo/stock/{path}", data={"csrf_token": _csrf(page), "key": key, **data},
                       headers=HTML)


def _line(services, lot: str, day: str | None = None) -> dict:
    sheet = stock.sheet(services, ADMIN, site_id="demo", day=None if day is None else date.fromisoformat(day))
    return next(row for row in sheet["lots"] if row["lot"] == lot)


def _supervisor(client, services, sites=("demo",)) -> None:
    _staff(services, "wang", "site_supervisor", sites=sites)
    _sign_in(client, "wang")


def test_the_page_shows_the_day_s_sheet_with_its_total_status_and_days(client, services):
    _supervisor(client, services)
    page = _page(client, "?lang=en")
    rows = _sheet_rows(page)
    # The demo's site file delivered its lots on the first load: 1,500 CoronaVac doses among them.
    coronavac = rows["202610A127"]
    assert coronavac[0] == "CoronaVac (Vero cell), inactivated" or "CoronaVac" in coronavac[0]
    assert coronavac[4:10] == ["0", "1500", "0", "0", "0", "1500"]  # opening, received, moved out, given, wasted, left
    assert coronavac[10] == "0 / 0" and coronavac[11] == "—" and coronavac[12] == "0"
    assert 'class="total"' in page and 'id="stock-status" class="stock-status flag" data-closed="false"' in page
    assert "Not closed." in page
    assert '/sites/demo/stock?date=2026-11-23' in page and "date=2026-11-25" not in page  # no day after today
    # The product in the page's language (the demo site speaks Chinese).
    assert "新型冠状病毒灭活疫苗" in _sheet_rows(_page(client, "?lang=zh_Hans"))["202610A127"][0]
    # Every form a supervisor may use, today.
    for form in ("receive-form", "move-form", "waste-form", "count-form", "close-form"):
        assert f'id="{form}"' in page or form == "move-form", form
    # A past day: its sheet (the lots delivered that day are not there yet), no forms that record now.
    before = _page(client, "?lang=en&date=2026-11-23")
    assert "202610A127" not in _sheet_rows(before) and 'id="receive-form"' not in before
    assert "date=2026-11-24" in before


def test_each_form_records_through_the_stock_commands(client, services, tmp_path):
    load_site_variant(services, tmp_path, "east")
    _supervisor(client, services, sites=("demo", "east"))
    # A delivery.
    answer = _post(client, "receive", DELIVERY)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/sites/demo/stock")
    assert _line(services, "PAGE2611")["received"] == 20
    page = _page(client, "?lang=en")
    assert "Delivery recorded: lot PAGE2611, 20 doses." in page
    assert _sheet_rows(page)["PAGE2611"][5] == "20"
    # A move to another site the supervisor sees (offered in the select).
    assert '<option value="east"' in page
    answer = _post(client, "move", {"lot": "PAGE2611", "vials": "5", "to_site": "east"})
    assert answer.status_code == 303
    assert _line(services, "PAGE2611")["moved_out"] == 5
    east = stock.sheet(services, ADMIN, site_id="east")
    assert next(row for row in east["lots"] if row["lot"] == "PAGE2611")["moved_in"] == 5
    # Waste of unopened doses, with a reason and a note.
    answer = _post(client, "waste", {"lot": "PAGE2611", "doses": "2", "reason": "broken", "vial": "",
                                     "note": "dropped"})
    assert answer.status_code == 303
    line = _line(services, "PAGE2611")
    assert (line["wasted"], line["wasted_by_reason"]["broken"], line["left"]) == (2, 2, 13)
    page = _page(client, "?lang=en")
    assert "vial broken: 2" in _sheet_rows(page)["PAGE2611"][8]


def test_bad_input_is_named_beside_its_field_keeps_what_was_entered_and_records_nothing(client, services, japi,
                                                                                       tmp_path):
    load_site_variant(services, tmp_path, "east")
    _supervisor(client, services, sites=("demo", "east"))
    _post(client, "receive", DELIVERY)
    before = snapshot_seq(japi)
    cases = [
        ("receive", {**DELIVERY, "vials": "-3"}, "receive-vials", "A whole number of vials, at least 1."),
        ("receive", {**DELIVERY, "vials": "lots"}, "receive-vials", "A whole number of vials, at least 1."),
        ("receive", {**DELIVERY, "lot": "OLD2611", "expires_on": "2026-11-23"}, "receive-expires_on",
         "This lot has expired: an expired lot cannot be received."),
        ("receive", {**DELIVERY, "expires_on": "2027-07-01"}, "receive-expires_on",
         "Lot PAGE2611 expires on 2027-06-30 here."),
        ("receive", {**DELIVERY, "product": "nosuchvaccine", "lot": "Q1"}, "receive-product",
         "Choose one of the site's products."),
        ("waste", {"lot": "NOTHELD", "doses": "1", "reason": "broken"}, "waste-lot", "This site holds no lot NOTHELD."),
        ("waste", {"lot": "PAGE2611", "doses": "-1", "reason": "broken"}, "waste-doses",
         "A whole number of doses, at least 1."),
        ("waste", {"lot": "PAGE2611", "doses": "21", "reason": "broken"}, "waste-doses",
         "Lot PAGE2611 has 20 unopened doses here (choose the vial to waste an open one)."),
        ("waste", {"lot": "PAGE2611", "doses": "1", "reason": "dropped"}, "waste-reason",
         "Choose a reason from the list."),
        ("waste", {"lot": "PAGE2611", "doses": "1", "reason": "broken", "vial": "7"}, "waste-vial",
         "This vial of lot PAGE2611 is not open."),
        ("move", {"lot": "PAGE2611", "vials": "1", "to_site": "nosuchsite"}, "move-to_site", "Choose another site."),
        ("move", {"lot": "PAGE2611", "vials": "1", "to_site": "demo"}, "move-to_site", "Choose another site."),
        ("move", {"lot": "PAGE2611", "vials": "99", "to_site": "east"}, "move-vials",
         "Lot PAGE2611 has 20 unopened vials here."),
        ("move", {"lot": "NOTHELD", "vials": "1", "to_site": "east"}, "move-lot", "This site holds no lot NOTHELD."),
    ]
    for path, data, error_id, message in cases:
        answer = _post(client, path + "?lang=en", data)
        page = html.unescape(answer.get_data(as_text=True))
        assert answer.status_code in (409, 422), (path, data, answer.status_code)
        shown = re.search(rf'id="error-{error_id}"[^>]*>([^<]+)<', page)
        assert shown and html.unescape(shown.group(1)) == message, (data, shown and shown.group(1))
        # The field is marked, and what was typed is still there.
        field = error_id.split("-", 1)[1]
        assert f'aria-describedby="error-{error_id}"' in page
        if path == "receive":
            assert f'name="lot" required maxlength="40" autocomplete="off" value="{data["lot"]}"' in page
            assert f'name="expires_on" required value="{data["expires_on"]}"' in page, field
        if path == "waste":
            assert f'value="{data["doses"]}"' in page
    assert snapshot_seq(japi) == before
    assert _line(services, "PAGE2611")["received"] == 20 and _line(services, "PAGE2611")["wasted"] == 0
    # A count that is not a number: refused for that lot, nothing recorded.
    answer = _post(client, "count?lang=en", {"lot": ["PAGE2611", "202610A127"], "count-PAGE2611": "-1",
                                             "count-202610A127": "1500"})
    assert answer.status_code == 422
    assert "A whole number of doses, 0 or more." in html.unescape(answer.get_data(as_text=True))
    assert 'value="-1"' in html.unescape(answer.get_data(as_text=True))
    assert snapshot_seq(japi) == before


def test_the_closing_is_refused_lot_by_lot_then_explained_and_closed(client, services, japi):
    _supervisor(client, services)
    _post(client, "receive", DELIVERY)
    lots = [row["lot"] for row in stock.sheet(services, ADMIN, site_id="demo")["lots"]]
    # Nothing counted yet: the closing names every lot that holds doses.
    answer = _post(client, "close?lang=en", {"date": DAY})
    assert answer.status_code == 409
    page = html.unescape(answer.get_data(as_text=True))
    assert "The day's stock cannot be closed yet:" in page and "Lot PAGE2611 is not counted at closing." in page
    # The closing counts, one press: every lot prefilled with its books; one lot is short by 2.
    page = _page(client, "?lang=en")
    assert 'name="count-PAGE2611" required min="0" step="1" inputmode="numeric" value="20"' in page
    counts = {f"count-{lot}": str(_line(services, lot)["left"]) for lot in lots}
    counts["count-PAGE2611"] = "18"
    before = snapshot_seq(japi)
    answer = _post(client, "count", {"lot": lots, **counts}, page)
    assert answer.status_code == 303
    assert snapshot_seq(japi) == before + len(lots)
    line = _line(services, "PAGE2611")
    assert (line["counted"], line["difference"], line["explained"]) == ({"closing": 18}, -2, False)
    page = _page(client, "?lang=en")
    row = _sheet_rows(page)["PAGE2611"]
    assert row[11] == "18" and row[12].startswith("-2") and "not explained" in row[12]
    assert 'class="difference unexplained"' in page and "Differences not explained: PAGE2611" in page
    # Close: refused, naming the lot and its difference.
    answer = _post(client, "close?lang=en", {"date": DAY}, page)
    assert answer.status_code == 409
    refused = html.unescape(answer.get_data(as_text=True))
    assert "Lot PAGE2611: a difference of -2 doses is not explained." in refused
    assert "Lot 202610A127" not in refused.split('id="close-refused"', 1)[1].split("</div>", 1)[0]
    # An explanation too short: beside its field, kept.
    answer = _post(client, "explain?lang=en", {"date": DAY, "lot": "PAGE2611", "explanation": "no"}, page)
    assert answer.status_code == 422 and "Say why, in 3 to 400 characters." in html.unescape(answer.get_data(as_text=True))
    assert _line(services, "PAGE2611")["explanation"] is None
    answer = _post(client, "explain", {"date": DAY, "lot": "PAGE2611", "explanation": "2 vials broken in transport"},
                   page)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/sites/demo/stock?date={DAY}")
    page = _page(client, "?lang=en")
    assert "2 vials broken in transport" in _sheet_rows(page)["PAGE2611"][12]
    assert 'id="stock-unexplained"' not in page
    answer = _post(client, "close", {"date": DAY}, page)
    assert answer.status_code == 303
    page = _page(client, "?lang=en")
    assert "Closed at 09:00 by Site supervisor wang." in page and 'data-closed="true"' in page
    assert 'id="close-form"' not in page and 'id="count-form"' not in page
    # A second closing (a form sent again from an old page) is refused in words.
    answer = _post(client, "close?lang=en", {"date": DAY}, page.replace('id="close-form"', ""))
    assert "The day's stock is already closed." in html.unescape(answer.get_data(as_text=True))


def test_the_injection_station_reads_the_page_other_stations_are_refused(app, services):
    _staff(services, "nurse", "station", stations=("injection",))
    client = app.test_client()
    _sign_in(client, "nurse")
    page = _page(client, "?lang=en")
    assert "202610A127" in _sheet_rows(page)
    # Read-only but for waste, which the table gives the injection desk.
    assert 'id="waste-form"' in page
    for form in ("receive-form", "move-form", "count-form", "close-form"):
        assert f'id="{form}"' not in page
    assert _post(client, "receive", DELIVERY, page).status_code == 403
    assert "/sites/demo/stock" in client.get("/", headers=HTML).get_data(as_text=True)
    _staff(services, "desk", "station", stations=("consent",))
    other = app.test_client()
    _sign_in(other, "desk")
    refused = other.get("/sites/demo/stock?lang=zh_Hans", headers=HTML)
    assert refused.status_code == 403 and "您的角色无权执行此操作。" in html.unescape(refused.get_data(as_text=True))
    assert "/sites/demo/stock" not in other.get("/", headers=HTML).get_data(as_text=True)


def test_the_dashboard_and_the_start_page_link_the_stock_page(client, services):
    _supervisor(client, services)
    dashboard = client.get("/sites/demo/dashboard", headers=HTML).get_data(as_text=True)
    assert 'id="vials-stock-link"' in dashboard and 'id="stock-link"' in dashboard
    assert 'href="/sites/demo/stock"' in client.get("/", headers=HTML).get_data(as_text=True)
