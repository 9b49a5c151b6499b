"""Site configuration: the demo file loads; every error names the file and the bad key."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.domain.errors import NotFound, ValidationFailed
from app.domain.site import Site, SiteConfigError, parse_site
from app.domain.vocabulary import STATIONS
from app.flow.sites import read_site_file
from tests.conftest import DEMO_SITE
from tests.unit.domain_helpers import demo_site_data


def config_error(data: dict, source: str = "sites/broken.toml") -> str:
    with pytest.raises(SiteConfigError) as caught:
        parse_site(data, source=source)
    return str(caught.value)


# --- the demo file ------------------------------------------------------------------------------

def test_demo_file_parses_into_a_complete_site():
    site = read_site_file(DEMO_SITE)
    assert isinstance(site, Site)
    assert site.id == "demo"
    assert site.timezone == "Asia/Shanghai"
    assert site.ticket_prefix == "A"
    assert set(site.stations) == set(STATIONS)
    assert site.stations["consent"].desks == ("A", "B")
    assert site.stations["injection"].desks == ("1", "2", "3", "4", "5", "6")
    assert (site.observation.minutes, site.observation.extended_minutes, site.observation.seats) == (30, 60, 60)
    assert (site.queue.max_recalls, site.queue.max_requeues) == (2, 1)


def test_demo_products_and_lots_are_looked_up_by_code():
    site = read_site_file(DEMO_SITE)
    coronavac = site.product("coronavac")
    assert coronavac is not None and coronavac.route == "IM"
    assert coronavac.find_lot("202610A127").expires_on == date(2027, 10, 15)
    assert coronavac.find_lot("nope") is None
    assert site.product("nope") is None


def test_parse_site_of_the_same_data_equals_read_site_file():
    assert parse_site(demo_site_data(), source=str(DEMO_SITE)) == read_site_file(DEMO_SITE)


def test_defaults_apply_when_optional_sections_are_left_out():
    data = demo_site_data()
    del data["queue"]
    del data["ticket_prefix"]
    del data["observation"]["minutes"]
    del data["observation"]["extended_minutes"]
    site = parse_site(data)
    assert site.ticket_prefix == "A"
    assert (site.queue.max_recalls, site.queue.max_requeues) == (2, 1)
    assert (site.observation.minutes, site.observation.extended_minutes) == (30, 60)


def test_site_is_frozen():
    site = read_site_file(DEMO_SITE)
    with pytest.raises(ValidationError):
        site.daily_target = 1  # type: ignore[misc]


def test_require_station_and_desk_refuse_unknown_ones():
    site = read_site_file(DEMO_SITE)
    assert site.require_desk("consent", "A") == "A"
    with pytest.raises(NotFound) as unknown_station:
        site.require_station("pharmacy")
    assert unknown_station.value.code == "unknown_station"
    with pytest.raises(ValidationFailed) as unknown_desk:
        site.require_desk("consent", "Z")
    assert "desk" in unknown_desk.value.fields


# --- errors name the key and the file -----------------------------------------------------------

def test_missing_station_is_named():
    data = demo_site_data()
    del data["stations"]["exit"]
    message = config_error(data)
    assert "sites/broken.toml: stations:" in message
    assert "missing stations: exit" in message


def test_unknown_station_is_named_with_the_allowed_ones():
    data = demo_site_data()
    data["stations"]["pharmacy"] = {"desks": ["1"]}
    message = config_error(data)
    assert "sites/broken.toml: stations:" in message
    assert "unknown stations: pharmacy" in message
    assert "checkin" in message


def test_duplicate_desk_ids_name_the_station_desks_key():
    data = demo_site_data()
    data["stations"]["injection"]["desks"] = ["1", "2", "2"]
    message = config_error(data)
    assert "sites/broken.toml: stations.injection.desks:" in message
    assert "unique" in message


def test_empty_desk_list_is_refused():
    data = demo_site_data()
    data["stations"]["consent"]["desks"] = []
    assert "stations.consent.desks" in config_error(data)


def test_bad_desk_id_is_named():
    data = demo_site_data()
    data["stations"]["consent"]["desks"] = ["A", "B C"]
    message = config_error(data)
    assert "stations.consent.desks" in message
    assert "'B C'" in message


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Asia/shanghai", "", "/etc/localtime", "Asia"])
def test_bad_time_zone_is_named(zone):
    data = demo_site_data()
    data["timezone"] = zone
    message = config_error(data)
    assert "sites/broken.toml: timezone:" in message
    assert "unknown time zone" in message


def test_extended_observation_shorter_than_normal_is_refused():
    data = demo_site_data()
    data["observation"]["minutes"] = 30
    data["observation"]["extended_minutes"] = 20
    message = config_error(data)
    assert "sites/broken.toml: observation:" in message
    assert "extended_minutes must be at least minutes" in message


def test_extended_observation_equal_to_normal_is_allowed():
    data = demo_site_data()
    data["observation"]["extended_minutes"] = data["observation"]["minutes"]
    assert parse_site(data).observation.extended_minutes == 30


def test_unknown_top_level_key_is_named():
    data = demo_site_data()
    data["colour"] = "blue"
    message = config_error(data)
    assert "sites/broken.toml: colour:" in message


def test_unknown_nested_key_is_named_with_its_path():
    data = demo_site_data()
    data["observation"]["chairs"] = 10
    assert "sites/broken.toml: observation.chairs:" in config_error(data)


def test_missing_required_key_is_named():
    data = demo_site_data()
    del data["daily_target"]
    assert "sites/broken.toml: daily_target:" in config_error(data)


def test_every_problem_is_reported_on_its_own_line():
    data = demo_site_data()
    data["timezone"] = "Nowhere/Land"
    data["colour"] = "blue"
    data["observation"]["seats"] = 0
    lines = config_error(data).splitlines()
    keys = {line.split(": ")[1] for line in lines}
    assert {"timezone", "colour", "observation.seats"} <= keys
    assert all(line.startswith("sites/broken.toml: ") for line in lines)


@pytest.mark.parametrize(
    ("key", "value"),
    [("id", "Demo Site"), ("ticket_prefix", "AB"), ("ticket_prefix", "a"), ("daily_target", -1)],
)
def test_invalid_top_level_values_are_named(key, value):
    data = demo_site_data()
    data[key] = value
    assert f"sites/broken.toml: {key}:" in config_error(data)


def test_duplicate_product_codes_are_refused():
    data = demo_site_data()
    data["products"].append(dict(data["products"][0]))
    assert "product codes must be unique" in config_error(data)


@pytest.mark.parametrize("key", ["name", "name_zh"])
def test_two_products_of_the_same_name_are_refused_in_either_language(key):
    data = demo_site_data()
    data["products"][1][key] = data["products"][0][key]
    assert f"product names{' (name_zh)' if key == 'name_zh' else ''} must be unique" in config_error(data)


def test_the_demo_products_have_distinct_names_in_both_languages():
    site = read_site_file(DEMO_SITE)
    assert {product.code: product.name_zh.rsplit("- ", 1)[1] for product in site.products} == {
        "coronavac": "克尔来福", "bbibp-corv": "众爱可维", "zf2001": "智克威得"}


def test_product_without_lots_names_the_product_index():
    data = demo_site_data()
    data["products"][1]["lots"] = []
    assert "products.1.lots" in config_error(data)


def test_default_source_name_is_used_without_a_file():
    data = demo_site_data()
    data["colour"] = "blue"
    with pytest.raises(SiteConfigError) as caught:
        parse_site(data)
    assert str(caught.value).startswith("<site>: colour:")


# --- reading files ------------------------------------------------------------------------------

def test_invalid_toml_is_a_site_config_error_naming_the_file(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('id = "demo"\nname = \n', encoding="utf-8")
    with pytest.raises(SiteConfigError) as caught:
        read_site_file(path)
    assert str(path) in str(caught.value)
    assert "not valid TOML" in str(caught.value)


def test_missing_file_is_a_site_config_error_naming_the_file(tmp_path: Path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(SiteConfigError) as caught:
        read_site_file(path)
    assert str(path) in str(caught.value)
    assert "no such file" in str(caught.value)


def test_invalid_site_in_a_file_names_the_file_and_key(tmp_path: Path):
    text = DEMO_SITE.read_text(encoding="utf-8").replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"')
    path = tmp_path / "beijing.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SiteConfigError) as caught:
        read_site_file(path)
    assert f"{path}: timezone: " in str(caught.value)
