"""The name policy at every door that lets text into a report: check-in, the other bodies'
free text, site files and staff accounts (app/domain/text.py)."""
from __future__ import annotations

import tomllib

import pytest

from app.domain.errors import ValidationFailed
from app.domain.site import SiteConfigError, parse_site
from app.flow import accounts
from tests.conftest import DEMO_SITE
from tests.support.api import assert_error, checker, japi
from tests.support.factories import gen_checkin

NAMES = ["买买提·艾力", "ئەخمەت ئابدۇللا", "བཀྲ་ཤིས་བདེ་ལེགས", "Nguyễn Thị Minh Khai", "O'Brien", "Jean-Luc Picard"]


def test_people_are_checked_in_under_their_real_names_in_any_script(japi, tokens):
    for name in NAMES:
        visit = japi.post("/sites/demo/visits", gen_checkin(name=name)).get_json()["visit"]
        detail = japi.get(f"/sites/demo/visits/{visit['id']}", token=tokens.supervisor).get_json()
        assert detail["visit"]["person"]["name"] == name
    decomposed = japi.post("/sites/demo/visits", gen_checkin(name=" Nguye\u0302\u0303n Van An ")).get_json()["visit"]
    detail = japi.get(f"/sites/demo/visits/{decomposed['id']}", token=tokens.supervisor).get_json()
    assert detail["visit"]["person"]["name"] == "Nguyễn Van An"  # NFC, trimmed


@pytest.mark.parametrize("name", ["张三\uffff", "张三\n李四", "\u202e三张", "张\u200b三", "张" * 65, "   "])
def test_a_name_that_would_break_a_screen_or_a_file_is_refused_naming_the_field(japi, name):
    assert_error(japi.post("/sites/demo/visits", gen_checkin(name=name)), 422, field="name")
    assert japi.get("/sites/demo/visits").get_json()["visits"] == []  # nothing recorded


def test_reasons_are_held_to_the_same_rules(japi):
    visit = japi.post("/sites/demo/visits", gen_checkin()).get_json()["visit"]
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/cancel", {"reason": "left\u202e"}), 422, field="reason")
    done = japi.post(f"/sites/demo/visits/{visit['id']}/cancel", {"reason": "  left the queue  "}).get_json()
    assert done["visit"]["state"] == "left"


def test_a_site_file_with_an_invisible_character_in_its_name_is_refused():
    data = tomllib.loads(DEMO_SITE.read_text())
    data["name"] = "Demo\u202e site"
    with pytest.raises(SiteConfigError, match="name"):
        parse_site(data, source="demo.toml")
    data["name"] = "  Demo site  "
    assert parse_site(data, source="demo.toml").name == "Demo site"


def test_a_staff_display_name_follows_the_rules(services):
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_user(services, actor="test", username="li", display_name="李\u200b四", role="admin")
    assert "display_name" in refused.value.fields
    account, _ = accounts.create_user(services, actor="test", username="li", display_name=" 买买提·艾力 ", role="admin")
    assert account.display_name == "买买提·艾力"
