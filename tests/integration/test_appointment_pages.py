"""A page of a day's bookings: each row's status and person as the caller may see them, with
the site's configuration read once per page (not once or twice per row)."""
from __future__ import annotations

from sqlalchemy import event

from app.domain.permissions import Principal
from app.flow import appointments as flow
from app.flow import booking_files
from tests.support.factories import gen_resident_id

ADMIN = Principal(name="test", role="admin")
STATION = Principal(name="desk", role="station", sites=frozenset({"demo"}), station="checkin")


def _import(services, count: int) -> None:
    # The clock is 09:00 at the demo site: a 07:00 booking is a no-show by now, a 10:00 one is not.
    lines = ["slot_start,name,document_type,document_number,phone,dose_number,group"]
    lines += [f"2026-11-24T{'07:00' if n % 2 else '10:00'},王小明,resident_id,{gen_resident_id()},13800138000,1,社区一"
              for n in range(count)]
    content = ("\n".join(lines) + "\n").encode()
    flow.import_rows(services, ADMIN, site_id="demo", rows=booking_files.rows_of(content), content=content)


def _statements(services, action) -> int:
    count = [0]

    def counted(*args):
        count[0] += 1

    event.listen(services.store.engine, "before_cursor_execute", counted)
    try:
        action()
    finally:
        event.remove(services.store.engine, "before_cursor_execute", counted)
    return count[0]


def test_a_page_shows_status_and_person_by_role_and_reads_the_site_once(day_app):
    services = day_app.extensions["siteflow"]
    _import(services, 40)
    full, after = flow.list_day(services, ADMIN, site_id="demo", day=None, after=0, limit=10)
    assert after is not None and len(full) == 10
    assert [row["status"] for row in full[:2]] == ["booked", "no_show"]
    assert full[0]["slot_start"] == "2026-11-24T10:00" and full[0]["person"]["document_type"] == "resident_id"
    assert full[0]["person"]["name"] == "王小明" and full[0]["person"]["phone"] == "13800138000"
    masked, _ = flow.list_day(services, STATION, site_id="demo", day=None, after=0, limit=10)
    assert masked[0]["person"]["name"] != "王小明" and len(masked[0]["person"]["document_last4"]) == 4
    assert [row["status"] for row in masked] == [row["status"] for row in full]

    def page(limit):
        return lambda: flow.list_day(services, STATION, site_id="demo", day=None, after=0, limit=limit)

    assert _statements(services, page(2)) == _statements(services, page(40))
