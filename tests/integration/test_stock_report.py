"""The daily report's stock sheet (JSON, CSV, XLSX, the printable page, in zh and en) and the
dashboard's open vials near closing (issue 19, parts 2 and 3). Real database, over the API."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.integration.test_stock import DAY, MULTI, NEW_LOT, inject_from, receive, sheet
from tests.support.api import act, call_next, check_in
from tests.support.factories import gen_consent

MULTI_EN = "COVID-19 Vaccine (Vero Cell), Inactivated - BBIBP-CorV"
MULTI_ZH = "新型冠状病毒灭活疫苗（Vero细胞）- 众爱可维"
CORONAVAC_EN = "COVID-19 Vaccine (Vero Cell), Inactivated - CoronaVac"


def a_day_of_stock(japi, tokens) -> None:
    """A 5-dose vial opened by an injection and its rest thrown away (contaminated), a broken
    single-dose vial, and a closing count one dose short on the single-dose lot."""
    injection = tokens.station("injection")
    receive(japi, MULTI)
    receive(japi, NEW_LOT)
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="1")  # opens vial 1: 4 doses left
    for body in ({"lot": "MD5LOT1", "doses": 4, "reason": "contaminated", "vial": 1, "desk": "1"},
                 {"lot": "API2611X", "doses": 1, "reason": "broken"}):
        assert japi.post("/sites/demo/stock/waste", body, token=injection).status_code == 201
    for line in sheet(japi)["lots"]:
        counted = line["left"] - (1 if line["lot"] == "API2611X" else 0)
        answer = japi.post("/sites/demo/stock/counts", {"lot": line["lot"], "doses": counted, "moment": "closing"})
        assert answer.status_code == 201, answer.get_json()


def xlsx(japi, lang: str):
    answer = japi.get("/sites/demo/reports/daily", date=DAY, format="xlsx", lang=lang, check=False)
    assert answer.status_code == 200
    return load_workbook(io.BytesIO(answer.data))


def rows(book, title: str) -> list[list]:
    return [list(line) for line in book[title].iter_rows(values_only=True)]


def page(client, tokens, lang: str) -> str:
    answer = client.get(f"/sites/demo/reports/daily?date={DAY}&lang={lang}",
                        headers={"Authorization": f"Bearer {tokens.supervisor}", "Accept": "text/html"})
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_the_daily_report_has_the_stock_sheet_with_totals_wastage_by_reason_and_the_closing(japi, client, tokens):
    a_day_of_stock(japi, tokens)
    report = japi.get("/sites/demo/reports/daily", date=DAY).get_json()
    stock = report["stock"]
    lots = {line["lot"]: line for line in stock["lots"]}
    multi, single = lots["MD5LOT1"], lots["API2611X"]
    assert {key: multi[key] for key in ("product", "doses_per_vial", "opening", "received", "given", "wasted",
                                        "left", "counted_closing", "difference", "balanced", "explained")} == {
        "product": "bbibp-corv", "doses_per_vial": 5, "opening": 0, "received": 10, "given": 1, "wasted": 4,
        "left": 5, "counted_closing": 5, "difference": 0, "balanced": True, "explained": True}
    assert multi["wasted_by_reason"] == {"contaminated": 4}
    assert (single["received"], single["wasted"], single["left"], single["difference"], single["explained"]) == (
        3, 1, 1, -1, False)
    assert stock["total"]["given"] == 1 and stock["total"]["wasted"] == 5 and stock["total"]["difference"] == -1
    assert stock["total"]["received"] == sum(line["received"] for line in stock["lots"])
    assert stock["total"]["balanced"] is False and stock["total"]["explained"] is False
    assert sorted((row["lot"], row["reason"], row["doses"]) for row in stock["wastage"]) == [
        ("API2611X", "broken", 1), ("MD5LOT1", "contaminated", 4)]
    assert stock["wasted_by_reason"] == {"contaminated": 4, "broken": 1}
    assert stock["unexplained"] == ["API2611X"] and stock["closed"] is None

    # The XLSX, in English: a Stock sheet (a line per lot, the total, the closing) and a Wastage sheet.
    book = xlsx(japi, "en")
    stock_sheet = rows(book, "Stock")
    assert stock_sheet[0] == ["Product", "Lot", "Expiry", "Doses per vial", "Opening stock", "Received", "Moved out",
                              "Given", "Wasted", "Left", "Counted at closing", "Difference", "Balanced", "Explained",
                              "Explanation"]
    by_lot = {line[1]: line for line in stock_sheet[1:] if line[2]}  # the lots' lines have an expiry
    assert by_lot["MD5LOT1"][:12] == [MULTI_EN, "MD5LOT1", "2027-06-30", 5, 0, 10, 0, 1, 4, 5, 5, 0]
    assert by_lot["API2611X"][0] == CORONAVAC_EN and by_lot["API2611X"][11:14] == [-1, "no", "no"]
    total = next(line for line in stock_sheet if line[0] == "Total")
    assert total[7:12] == [1, 5, stock["total"]["left"], stock["total"]["counted_closing"], -1]
    assert [cell for cell in stock_sheet[-2] if cell is not None] == ["Stock closed", "not closed"]
    assert [cell for cell in stock_sheet[-1] if cell is not None] == ["Differences not explained", "API2611X"]
    wastage = rows(book, "Wastage")
    assert wastage[0] == ["Product", "Lot", "Reason code", "Reason", "Doses"]
    assert sorted(wastage[1:-1]) == [[MULTI_EN, "MD5LOT1", "contaminated", "contaminated", 4],
                                     [CORONAVAC_EN, "API2611X", "broken", "vial broken", 1]]
    assert wastage[-1] == ["Total", None, None, None, 5]
    # … and in Chinese: the same figures, the headers, products and reasons named in Chinese.
    book = xlsx(japi, "zh_Hans")
    assert rows(book, "Stock")[0][:4] == ["疫苗", "批号", "有效期", "每瓶剂量"]
    assert {line[1]: line[0] for line in rows(book, "Stock")[1:] if line[2]}["MD5LOT1"] == MULTI_ZH
    assert {line[2]: line[3] for line in rows(book, "Wastage")[1:-1]} == {"broken": "疫苗瓶破损",
                                                                         "contaminated": "污染"}
    # The CSV has the same sections.
    csv_text = japi.get("/sites/demo/reports/daily", date=DAY, format="csv", lang="en", check=False).get_data(
        as_text=True)
    assert "\nStock\r\n" in csv_text and "\nWastage\r\n" in csv_text and ",broken,vial broken,1" in csv_text

    # The printable page, in both languages: the lines, the reasons named, the open day flagged.
    english = page(client, tokens, "en")
    assert "Vaccine stock" in english and 'data-lot="MD5LOT1"' in english and MULTI_EN in english
    assert "vial broken" in english and "stock is not closed." in english
    assert "Differences not explained: API2611X" in english and 'class="unexplained"' in english
    chinese = page(client, tokens, "zh_Hans")
    assert "疫苗库存" in chinese and "损耗" in chinese and "疫苗瓶破损" in chinese and "污染" in chinese
    assert "当日库存尚未日结。" in chinese and "差异未说明的批号：API2611X" in chinese and MULTI_ZH in chinese

    # Explained and closed: the report says when and by whom.
    assert japi.post("/sites/demo/stock/explanations", {"date": DAY, "lot": "API2611X",
                                                        "explanation": "vial dropped, not recorded"}).status_code == 201
    assert japi.post("/sites/demo/stock/close", {"date": DAY}).status_code == 201
    stock = japi.get("/sites/demo/reports/daily", date=DAY).get_json()["stock"]
    assert stock["unexplained"] == [] and stock["total"]["explained"] is True
    assert stock["closed"]["by"] == "admin:admin-all" and stock["closed"]["at"].startswith(f"{DAY}T09:00")
    assert next(line for line in stock["lots"] if line["lot"] == "API2611X")["explanation"] == (
        "vial dropped, not recorded")
    closing = [cell for cell in rows(xlsx(japi, "en"), "Stock")[-1] if cell is not None]
    assert closing == ["Stock closed", f"closed {DAY} 09:00 by admin:admin-all"]
    english = page(client, tokens, "en")
    assert 'data-closed="true"' in english and "Stock closed 2026-11-24 09:00" in english
    assert "no, explained" in english and "vial dropped, not recorded" in english


def test_the_command_line_names_the_stock_sheet_in_the_sites_language_or_the_one_asked(app, services):
    from app.cli.reports import _words

    assert _words(app, services, "demo", None).text["given"] == "已接种"  # the demo site's language
    english = _words(app, services, "demo", "en")
    assert english.text["given"] == "Given" and english.reasons["expired_open_vial"] == "open vial past its time limit"
    assert english.products["bbibp-corv"] == MULTI_EN


def dashboard_vials(japi) -> dict:
    return japi.get("/sites/demo/dashboard").get_json()["vials"]


def test_the_dashboard_shows_the_open_vials_against_the_queue_and_near_closing(japi, client, tokens, clock):
    injection = tokens.station("injection")
    receive(japi, {**MULTI, "vials": 3})
    assert dashboard_vials(japi)["open"] == []
    opened = japi.post("/sites/demo/stock/vials", {"lot": "MD5LOT1", "desk": "1"}, token=injection)
    assert opened.status_code == 201, opened.get_json()
    vials = dashboard_vials(japi)
    assert vials["open"] == [{"product": "bbibp-corv", "lot": "MD5LOT1", "vial": 1, "desk": "1", "doses_left": 5,
                              "discard_at": "2026-11-24T07:00:00+00:00", "minutes_left": 360}]
    assert (vials["doses_left"], vials["people_needed"], vials["enough"], vials["short"]) == (5, 5, False, 5)
    assert vials["queue"] == {"injection": 0, "consent": 0, "total": 0}
    assert (vials["minutes_to_closing"], vials["near_closing"]) == (480, False)  # 09:00; closes at 17:00
    assert vials["closes_at"] == "2026-11-24T17:00:00+08:00"
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="1")  # someone from check-in to a dose of the open vial
    people = [check_in(japi) for _ in range(3)]  # waiting at consent
    assert dashboard_vials(japi)["queue"] == {"injection": 0, "consent": 3, "total": 3}
    # One of them on to injection, and called to booth 2: still in the injection queue.
    assert call_next(japi, "consent", "A")["id"] == people[0]["id"]
    act(japi, people[0]["id"], "consent", gen_consent("A"))
    assert call_next(japi, "injection", "2")["id"] == people[0]["id"]
    vials = dashboard_vials(japi)
    assert vials["queue"] == {"injection": 1, "consent": 2, "total": 3}
    assert (vials["open"][0]["doses_left"], vials["people_needed"], vials["enough"], vials["short"]) == (4, 4, False, 1)

    # Six hours on, the vial's time is up: nothing open, nobody needed.
    clock.advance(minutes=361)
    vials = dashboard_vials(japi)
    assert (vials["open"], vials["people_needed"], vials["enough"], vials["short"]) == ([], 0, True, 0)

    # Near closing (16:25), a new vial at booth 2: the card is highlighted, with the minutes left.
    clock.advance(minutes=84)  # 15:01 + 84 min = 16:25
    assert japi.post("/sites/demo/stock/vials", {"lot": "MD5LOT1", "desk": "2"}, token=injection).status_code == 201
    for _ in range(3):
        check_in(japi)
    vials = dashboard_vials(japi)
    assert (vials["minutes_to_closing"], vials["near_closing"]) == (35, True)
    assert [(vial["desk"], vial["doses_left"], vial["minutes_left"]) for vial in vials["open"]] == [("2", 5, 360)]
    assert vials["queue"] == {"injection": 1, "consent": 5, "total": 6}
    assert (vials["people_needed"], vials["enough"], vials["short"]) == (5, True, 0)
    # After closing it stays highlighted (the people there are still served), with 0 minutes left.
    clock.advance(minutes=40)
    vials = dashboard_vials(japi)
    assert (vials["minutes_to_closing"], vials["near_closing"]) == (0, True)

    # The page has the card and its words, in both languages.
    headers = {"Authorization": f"Bearer {tokens.supervisor}", "Accept": "text/html"}
    english = client.get("/sites/demo/dashboard?lang=en", headers=headers).get_data(as_text=True)
    assert 'id="vials-card"' in english and "Open vials" in english and "more people needed" in english
    chinese = client.get("/sites/demo/dashboard?lang=zh_Hans", headers=headers).get_data(as_text=True)
    assert "已开瓶疫苗" in chinese and "排队人数不足" in chinese


def test_a_past_days_report_keeps_its_stock_sheet(japi, tokens, clock):
    a_day_of_stock(japi, tokens)
    clock.advance(days=1)
    stock = japi.get("/sites/demo/reports/daily", date=DAY).get_json()["stock"]
    assert stock["as_of"] == "2026-11-25T00:00:00+08:00" and stock["unexplained"] == ["API2611X"]
    assert {line["lot"]: line["given"] for line in stock["lots"]}["MD5LOT1"] == 1
