"""Staff accounts and tokens are listed a page at a time by id (issue 15): `GET /api/v1/users`
and `GET /api/v1/tokens` for admins, and the users and displays pages with a "More" link.
Every row comes exactly once, in id order; nothing secret is ever in a list."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, insert, select

from app.domain.errors import Forbidden
from app.domain.permissions import Principal
from app.flow import accounts, pairing
from app.flow import tokens as token_flow
from app.store.tables import api_tokens, users
from tests.support.api import assert_error, checker, japi

HTML = {"Accept": "text/html"}
MANY = 1203  # rows in all: three pages of 500, the last one short
HASH_MARK = "NOT-TO-BE-SHOWN"  # in every stored hash, so a leak shows in a body


def _add_users(services, count: int, *, prefix: str = "bulk") -> None:
    """Accounts straight into the table: hashing 1,203 passwords with argon2 would take a minute."""
    now = services.clock.now()
    rows = [{"username": f"{prefix}-{n:04d}", "display_name": f"Bulk {n}", "role": "station", "sites": ["demo"],
             "stations": ["consent"], "password_hash": f"$argon2id${HASH_MARK}-password-{n}",
             "pin_hash": f"$argon2id${HASH_MARK}-pin-{n}" if n % 2 else None, "pin_failures": 0,
             "must_change_password": False, "active": n % 7 != 0, "created_at": now, "updated_at": now}
            for n in range(count)]
    with services.store.engine.begin() as conn:
        conn.execute(insert(users), rows)


def _add_tokens(services, count: int, *, role: str = "station") -> None:
    now = services.clock.now()
    rows = [{"token_hash": f"{HASH_MARK}-{role}-{n}", "role": role, "site_id": "demo",
             "station": "consent" if role == "station" else None, "name": f"{role}-{n}", "created_at": now,
             "settings": {"label": f"Screen {n}", "language": "both"} if role == "display" else None,
             "created_by": "test"}
            for n in range(count)]
    with services.store.engine.begin() as conn:
        conn.execute(insert(api_tokens), rows)


def _count(services, table) -> int:
    with services.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _all_pages(japi, path: str, key: str, **params) -> list[list[dict]]:
    """Every page of a list, following `next` (each answer checked against the OpenAPI document)."""
    pages, answer = [], japi.get(path, **params)
    while True:
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert "hash" not in answer.get_data(as_text=True) and HASH_MARK not in answer.get_data(as_text=True)
        pages.append(body[key])
        if body["next"] is None:
            return pages
        link, _, query = body["next"].partition("?")
        assert link == "/api/v1" + path
        answer = japi.get(path, **dict(parse_qsl(query)))


def test_every_user_comes_once_in_id_order_and_no_password_or_pin(japi, services):
    _add_users(services, MANY)
    pages = _all_pages(japi, "/users", "users", limit="500")
    assert [len(page) for page in pages] == [500, 500, 203]
    ids = [row["id"] for page in pages for row in page]
    assert ids == sorted(ids) and len(set(ids)) == MANY == _count(services, users)
    first = pages[0][1]
    assert first["username"] == "bulk-0001" and first["sites"] == ["demo"] and first["has_pin"] is True
    assert pages[0][0]["active"] is False and pages[0][0]["has_pin"] is False  # bulk-0000
    assert set(first) == {"id", "username", "display_name", "role", "sites", "stations", "active", "has_pin",
                          "must_change_password", "created_at", "updated_at"}


def test_the_default_page_is_100_and_a_site_free_role_has_sites_null(japi, services):
    accounts.create_user(services, actor="test", username="root", display_name="Root", role="admin",
                         password="lantern-orchard-river-7")
    _add_users(services, 120)
    body = japi.get("/users").get_json()
    assert len(body["users"]) == 100 and body["next"].endswith("after=" + str(body["users"][-1]["id"]))
    assert body["users"][0]["username"] == "root" and body["users"][0]["sites"] is None


def test_every_token_comes_once_in_id_order_and_no_token_or_hash(japi, services, tokens):
    secrets = [tokens.admin, tokens.supervisor, tokens.station("consent"), tokens.display]
    token_flow.revoke(services, ids=[3], actor="test")
    _add_tokens(services, MANY - 4 - 100)
    _add_tokens(services, 100, role="display")
    pages = _all_pages(japi, "/tokens", "tokens", limit="500")
    assert [len(page) for page in pages] == [500, 500, 203]
    rows = [row for page in pages for row in page]
    ids = [row["id"] for row in rows]
    assert ids == sorted(ids) and len(set(ids)) == MANY == _count(services, api_tokens)
    body = str(pages)
    for secret in secrets:  # neither the tokens nor their SHA-256
        assert secret not in body and token_flow.hash_token(secret) not in body
    assert rows[0]["role"] == "admin" and rows[0]["sites"] is None and rows[0]["revoked_at"] is None
    assert rows[2]["revoked_at"] is not None and rows[2]["station"] == "consent" and rows[2]["sites"] == ["demo"]
    assert rows[-1]["role"] == "display" and rows[-1]["settings"]["label"] == "Screen 99"


@pytest.mark.parametrize("path", ["/users", "/tokens"])
@pytest.mark.parametrize(("name", "value", "says"), [
    ("limit", "0", "from 1 to 500"), ("limit", "501", "from 1 to 500"), ("limit", "ten", "digits 0-9"),
    ("limit", "１０", "digits 0-9"), ("after", "-1", "digits 0-9"), ("after", "x1", "digits 0-9"),
    ("after", str(2**31), "from 0 to 2147483647"), ("after", "1_000", "digits 0-9"),
])
def test_a_bad_limit_or_cursor_is_a_422_naming_it(japi, path, name, value, says):
    error = assert_error(japi.get(path, **{name: value}), 422, field=name)
    assert says in error["fields"][name]


@pytest.mark.parametrize("role", ["city_supervisor", "site_supervisor", "station", "display"])
def test_only_admins_list_users_and_tokens(japi, tokens, role):
    token = tokens.make(role, site=None if role == "city_supervisor" else "demo",
                        station="consent" if role == "station" else None)
    for path in ("/users", "/tokens"):
        assert_error(japi.get(path, token=token), 403, code="role_forbidden")


def test_the_flow_commands_check_the_caller_too(services):
    supervisor = Principal(name="wang", role="site_supervisor", sites=frozenset({"demo"}))
    with pytest.raises(Forbidden):
        accounts.accounts_page(services, supervisor, after=0, limit=10)
    with pytest.raises(Forbidden):
        token_flow.tokens_page(services, supervisor, after=0, limit=10)


# --- the pages --------------------------------------------------------------------------------

def _sign_in(client, services, username: str, role: str, sites: list[str]) -> None:
    accounts.create_user(services, actor="test", username=username, display_name=username.upper(), role=role,
                         sites=sites, password="lantern-orchard-river-7")
    services.store.staff.update_user(accounts.get_account(services, username=username).id,
                                     at=services.clock.now(), must_change_password=False)
    page = client.get("/login", headers=HTML).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"username": username, "password": "lantern-orchard-river-7",
                                          "csrf_token": csrf})
    assert answer.status_code == 302


def _follow_more(client, path: str, label: str, row: str) -> list[list[str]]:
    """The rows (matches of `row`) of every page, following the "More" link labelled `label`."""
    pages = []
    while path:
        answer = client.get(path, headers=HTML)
        assert answer.status_code == 200
        page = answer.get_data(as_text=True)
        pages.append(re.findall(row, page))
        more = re.search(rf'<a class="button" href="([^"]+)">{label}</a>', page)
        path = more.group(1).replace("&amp;", "&") if more else None
    return pages


def test_the_users_page_shows_100_accounts_and_a_more_link_in_the_reader_s_language(client, services):
    _sign_in(client, services, "root", "admin", [])
    _add_users(services, 150)
    pages = _follow_more(client, "/users?lang=zh_Hans", "更多账号", r"<td>(root|bulk-\d+)</td>")
    assert [len(page) for page in pages] == [100, 51]
    assert pages[0][0] == "root" and pages[1][-1] == "bulk-0149"
    assert len({name for page in pages for name in page}) == 151
    english = client.get("/users?lang=en", headers=HTML).get_data(as_text=True)
    assert ">More accounts</a>" in english
    assert client.get("/users?after=x", headers=HTML).status_code == 422


def test_the_displays_page_shows_100_displays_and_a_more_link(app, client, services):
    _sign_in(client, services, "wang", "site_supervisor", ["demo"])
    _add_tokens(services, 130, role="display")
    _add_tokens(services, 5)  # station tokens are not displays
    pages = _follow_more(client, "/devices?lang=en", "More displays", r"<td>(Screen \d+)</td>")
    assert [len(page) for page in pages] == [100, 30]
    assert [name for page in pages for name in page] == [f"Screen {n}" for n in range(130)]
    shown, after = pairing.displays(services, Principal(name="wang", role="site_supervisor",
                                                        sites=frozenset({"other"})), after=0, limit=100)
    assert shown == [] and after is None  # a supervisor of another site sees none of them
