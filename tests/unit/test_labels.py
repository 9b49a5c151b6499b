"""How the pages name what the domain stores as codes: a browser's user agent as a short device
summary, moments in the site's time zone, the actors of the audit trail, in both languages."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from app.translations import catalogues
from app.web import labels

IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Mobile/15E148 Safari/604.1")
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Safari/537.36")
WINDOWS_EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0")
HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 "
            "Safari/537.36")


@pytest.fixture
def context():
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(catalogues.HERE))
    with app.test_request_context():
        yield


@pytest.mark.parametrize(("agent", "english", "chinese"), [
    (IPAD, "Safari on a tablet (iPad)", "平板（iPad）上的 Safari"),
    (ANDROID_TABLET, "Chrome on a tablet (Android)", "平板（Android）上的 Chrome"),
    (WINDOWS_EDGE, "Edge on a computer (Windows)", "电脑（Windows）上的 Edge"),
    (HEADLESS, "Chrome on a computer (Linux)", "电脑（Linux）上的 Chrome"),
    ("LostTablet/1.0", "Unknown device", "未知设备"),
    (None, "Unknown device", "未知设备"),
])
def test_a_user_agent_is_shown_as_a_short_device_summary(context, agent, english, chinese):
    with force_locale("en"):
        assert labels.device(agent) == english
    with force_locale("zh_Hans"):
        assert labels.device(agent) == chinese


def test_moments_are_shown_in_the_zone_given_and_stored_naive_ones_are_utc(context):
    shanghai = ZoneInfo("Asia/Shanghai")
    assert labels.local_time(datetime(2026, 11, 24, 1, 5, tzinfo=UTC), shanghai) == "2026-11-24 09:05"
    assert labels.local_time("2026-11-24T23:30:00", shanghai) == "2026-11-25 07:30"  # the store's naive UTC
    assert labels.local_time("2026-11-24T09:05:00+08:00", shanghai, "%H:%M") == "09:05"
    assert labels.local_time(None, shanghai) == "—"
    with force_locale("zh_Hans"):
        assert labels.zone_name(shanghai) == "中国时间"
    with force_locale("en"):
        assert labels.zone_name(shanghai) == "China Time" and labels.zone_name(ZoneInfo("UTC")) == "UTC"


def test_codes_are_named_and_data_is_shown_as_it_is(context):
    with force_locale("zh_Hans"):
        assert labels.actor("site_supervisor:wang") == "接种点负责人 wang"
        assert labels.actor("cli") == "命令行"
        assert labels.subject("user:ann") == "账号 ann"
        assert labels.label("action", "auth.login_failed") == "密码错误"
        assert labels.detail_value("stations", ["consent", "injection"]) == "知情同意, 接种"
        assert labels.detail_value("reason", "wrong password") == "密码错误"
        assert labels.detail_value("reason", "他说不舒服") == "他说不舒服"  # typed by a person: as typed
        assert labels.label("state", "waiting") == "排队等候"
    with force_locale("en"):
        assert labels.label("role", "station") == "Station staff"
        assert labels.label("role", "unknown-role") == "unknown-role"
