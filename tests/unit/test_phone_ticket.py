"""What a person's phone shows (app/domain/phone_ticket.py): steps, places, the code's life."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.phone_ticket import Step, code_expires, looks_like_code, new_code, places_in_queue, ticket_view
from tests.conftest import START as NOW
from tests.unit.domain_helpers import Log, make_site


def test_codes_are_22_url_safe_characters_and_nothing_else_is_looked_up():
    codes = {new_code() for _ in range(1000)}
    assert len(codes) == 1000 and all(looks_like_code(code) for code in codes)
    for text in ("", "short", "a" * 21, "a" * 23, "a" * 21 + "/", "ａ" * 22, "a" * 21 + "\n"):
        assert not looks_like_code(text), text


def test_a_code_lasts_to_the_end_of_the_sites_day_plus_its_grace():
    site = make_site()
    expires = code_expires(site, date(2026, 12, 4))
    assert expires == datetime(2026, 12, 5, 2, 0, tzinfo=ZoneInfo(site.timezone))  # midnight + 120 min
    assert expires.astimezone(UTC) == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


def test_the_steps_of_a_visit_and_what_each_carries():
    log = Log()
    observing = log.to_observation()
    visit = log.check_in()
    view = ticket_view(log.site, visit, now=NOW, ahead=0, minutes=None)
    assert (view["step"], view["station"], view["ahead"], view["desk"]) == (Step.WAITING, "consent", 0, None)
    called = log.call_next("consent", "B")
    view = ticket_view(log.site, called, now=NOW)
    assert (view["step"], view["desk"], view["called_at"]) == (Step.CALLED, "B", called.called_at.isoformat())
    view = ticket_view(log.site, observing, now=observing.injected_at)
    assert (view["step"], view["remaining_seconds"]) == (Step.OBSERVING, 30 * 60)
    assert view["emergency"]["en"].startswith("If you feel unwell")
    later = ticket_view(log.site, observing, now=observing.leave_at + timedelta(seconds=1))
    assert (later["step"], later["station"], later["remaining_seconds"]) == (Step.MAY_LEAVE, "exit", 0)
    cancelled = log.cancel(called.id, reason="left")
    assert ticket_view(log.site, cancelled, now=NOW)["step"] == Step.SEE_STAFF


def test_places_follow_the_queue_order_priority_first():
    log = Log()
    first, second = log.check_in(), log.check_in()
    elder = log.check_in(priority=True)
    assert places_in_queue([first, second, elder]) == {elder.id: 0, first.id: 1, second.id: 2}


def test_a_phone_far_back_hears_of_its_place_in_steps_and_near_the_front_exactly():
    from app.live.payloads import ticket_signature

    log = Log()
    view = ticket_view(log.site, log.check_in(), now=NOW, ahead=9, minutes=4)

    def signature(ahead, minutes):
        return ticket_signature({**view, "ahead": ahead, "minutes": minutes, "at": "later"})

    assert signature(9, 4) != signature(8, 4)  # near the front: every move
    assert signature(57, 30) == signature(55, 31) != signature(49, 30)  # by tens
    assert signature(240, 90) == signature(201, 90) != signature(199, 90)  # by fifties
    assert signature(9, 4) == ticket_signature(view)  # the time it was made is not a change
