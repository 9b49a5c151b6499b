"""Staff accounts: create, sign in (password or tablet PIN), change, disable.

Passwords and PINs are stored as argon2 hashes (argon2-cffi). Every change is audited.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row

from app.domain.errors import NotFound, Unauthorized, ValidationFailed
from app.domain.passwords import password_problem
from app.domain.permissions import ROLES, SITE_BOUND, Principal, authorize
from app.domain.text import name_problem, normalised
from app.domain.vocabulary import STATIONS

from . import audit
from .services import Services

HASHER = PasswordHasher()
# Verified against when the username is unknown, so both answers take as long.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
PIN = re.compile(r"^[0-9]{4,8}$")
# Consecutive wrong PINs after which the PIN stops working until the next password sign-in.
PIN_ATTEMPTS = 5


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    role: str
    sites: tuple[str, ...]
    stations: tuple[str, ...]
    active: bool
    has_pin: bool
    must_change_password: bool

    def principal(self, station: str | None = None, *, session_id: int | None = None) -> Principal:
        """The caller this account is (in a session); a station account works at one of its
        stations at a time."""
        if self.role == "station":
            station = station if station in self.stations else (self.stations[0] if self.stations else None)
        else:
            station = None
        sites = frozenset(self.sites) if self.role in SITE_BOUND else None
        return Principal(name=self.username, role=self.role, sites=sites, station=station, user_id=self.id,
                         session_id=session_id)


def _account(row: Row[Any]) -> Account:
    return Account(
        id=row.id, username=row.username, display_name=row.display_name, role=row.role,
        sites=tuple(row.sites), stations=tuple(row.stations), active=row.active, has_pin=row.pin_hash is not None,
        must_change_password=row.must_change_password,
    )


def _home_site(row: Row[Any] | None) -> str | None:
    """The site an account's entries belong to in the audit trail (its site supervisors see them)."""
    return row.sites[0] if row is not None and len(row.sites) == 1 else None


def normalise_username(username: str) -> str:
    return username.strip().lower()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _check_scope(services: Services, role: str, sites: Iterable[str], stations: Iterable[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    sites, stations = list(sites), list(stations)
    if role not in ROLES or role == "display":
        fields["role"] = f"must be one of {', '.join(r for r in ROLES if r != 'display')} (displays are paired)"
        return fields
    known = set(services.store.site_ids())
    if role in SITE_BOUND and not sites:
        fields["sites"] = f"a {role} works at one or more sites"
    elif role not in SITE_BOUND and sites:
        fields["sites"] = f"a {role} sees every site; give no sites"
    elif any(site not in known for site in sites):
        fields["sites"] = f"unknown site(s): {', '.join(site for site in sites if site not in known)}"
    elif role == "station" and len(sites) != 1:
        fields["sites"] = "station staff work at exactly one site"
    if role == "station" and (not stations or any(station not in STATIONS for station in stations)):
        fields["stations"] = f"station staff need one or more of {', '.join(STATIONS)}"
    elif role != "station" and stations:
        fields["stations"] = "only station staff have stations"
    return fields


DISPLAY_NAME_MAX = 120


def create_user(
    services: Services, *, actor: str, username: str, display_name: str, role: str, sites: Iterable[str] = (),
    stations: Iterable[str] = (), password: str | None = None, pin: str | None = None,
) -> tuple[Account, str | None]:
    """Create an account. Without a password one is generated and returned (shown once), and the
    account must choose its own at first sign-in."""
    username = normalise_username(username)
    fields = _check_scope(services, role, sites, stations)
    if not USERNAME.fullmatch(username):
        fields["username"] = "2-64 characters: a-z, 0-9, dot, dash, underscore; starting with a letter or digit"
    display_name = normalised(display_name)
    if problem := name_problem(display_name, max_length=DISPLAY_NAME_MAX):
        fields["display_name"] = problem
    generated = None
    if password is None:
        password = generated = generate_password()
    elif problem := password_problem(password, username=username, user_inputs=(display_name,)):
        fields["password"] = problem
    if pin is not None and not PIN.fullmatch(pin):
        fields["pin"] = "4 to 8 digits"
    if fields:
        raise ValidationFailed("Cannot create that account.", fields=fields)
    user_id = services.store.staff.add_user(
        at=services.clock.now(), username=username, display_name=display_name, role=role,
        sites=sorted(set(sites)), stations=[s for s in STATIONS if s in set(stations)],
        password_hash=HASHER.hash(password), pin_hash=HASHER.hash(pin) if pin else None,
        must_change_password=generated is not None,
    )
    audit.record(services, actor, "user.created", subject=f"user:{username}",
                 detail={"role": role, "sites": sorted(set(sites)), "stations": sorted(set(stations))})
    return _existing(services, user_id), generated


def get_account(services: Services, *, user_id: int | None = None, username: str | None = None) -> Account | None:
    row = services.store.staff.user(user_id=user_id, username=normalise_username(username) if username else None)
    return _account(row) if row else None


def _existing(services: Services, user_id: int) -> Account:
    row = services.store.staff.user(user_id=user_id)
    if row is None:
        raise NotFound(f"No user #{user_id}.", code="unknown_user")
    return _account(row)


def any_accounts(services: Services) -> bool:
    return services.store.staff.count_users() > 0


def list_accounts(services: Services) -> list[Account]:
    return [_account(row) for row in services.store.staff.list_users()]


def accounts_page(services: Services, principal: Principal, *, after: int, limit: int,
                  ) -> tuple[list[dict[str, Any]], int | None]:
    """One page of accounts in id order (never a password or PIN, nor their hashes), and the
    `after` of the next page (None at the end)."""
    authorize(principal, "users.manage", site="*")
    rows, next_after = services.store.staff.users_page(after=after, limit=limit)
    return [_listed(row) for row in rows], next_after


def _listed(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id, "username": row.username, "display_name": row.display_name, "role": row.role,
        "sites": list(row.sites) if row.role in SITE_BOUND else None, "stations": list(row.stations),
        "active": row.active, "has_pin": row.pin_hash is not None, "must_change_password": row.must_change_password,
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }


def _verify(hash_: str, secret: str) -> bool:
    try:
        return HASHER.verify(hash_, secret)
    except (VerificationError, InvalidHashError):
        return False


def sign_in(services: Services, username: str, password: str, *, remote_addr: str | None = None) -> Account:
    """Check a username and password; audit the attempt either way."""
    name = normalise_username(username)[:64]
    row = services.store.staff.user(username=name)
    good = _verify(row.password_hash if row else _DUMMY_HASH, password)
    if row is None or not good or not row.active:
        reason = "unknown user" if row is None else ("wrong password" if not good else "account disabled")
        audit.record(services, f"user:{name}", "auth.login_failed", outcome=audit.Outcome.FAILED, site=_home_site(row),
                     subject=f"user:{name}", detail={"reason": reason}, remote_addr=remote_addr)
        raise Unauthorized("Wrong username or password.", code="bad_credentials")
    if HASHER.check_needs_rehash(row.password_hash):
        services.store.staff.update_user(row.id, at=services.clock.now(), password_hash=HASHER.hash(password))
    if row.pin_failures:
        services.store.staff.update_user(row.id, at=services.clock.now(), pin_failures=0)
    audit.record(services, f"{row.role}:{row.username}", "auth.login", site=_home_site(row),
                 subject=f"user:{row.username}", remote_addr=remote_addr)
    return _account(row)


def sign_in_with_pin(
    services: Services, username: str, pin: str, *, site: str, remote_addr: str | None = None,
) -> Account:
    """Quick switch on a station tablet: username + PIN, for staff of the tablet's site only."""
    name = normalise_username(username)[:64]
    row = services.store.staff.user(username=name)
    usable = (
        row is not None and row.active and row.pin_hash is not None and row.pin_failures < PIN_ATTEMPTS
        and row.role in ("station", "site_supervisor") and site in row.sites
    )
    good = _verify(row.pin_hash if row is not None and usable else _DUMMY_HASH, pin)
    if row is None or not usable or not good:
        if row is not None and usable:
            failures = services.store.staff.count_pin_failure(row.id)
            reason = "wrong PIN" if failures < PIN_ATTEMPTS else "wrong PIN; PIN locked until a password sign-in"
        else:
            reason = "PIN sign-in not available for this account here"
        audit.record(services, f"user:{name}", "auth.pin_failed", outcome=audit.Outcome.FAILED, site=site,
                     subject=f"user:{name}", detail={"reason": reason}, remote_addr=remote_addr)
        raise Unauthorized("Wrong username or PIN, or PIN sign-in is not available: sign in with the password.",
                           code="bad_credentials")
    if row.pin_failures:
        services.store.staff.update_user(row.id, at=services.clock.now(), pin_failures=0)
    audit.record(services, f"{row.role}:{row.username}", "auth.pin_login", site=site, subject=f"user:{row.username}",
                 remote_addr=remote_addr)
    return _account(row)


def end_sessions(services: Services, user_id: int, *, reason: str, keep: int | None = None) -> int:
    """End every open session of a user (but `keep`), and tell the live side; returns how many."""
    ended = services.store.staff.end_sessions(at=services.clock.now(), reason=reason, user_id=user_id, keep=keep)
    if ended:
        services.credential_ended("session", ended)
    return len(ended)


def change_password(services: Services, account: Account, *, current: str, new: str,
                    session_id: int | None = None) -> None:
    """The user's own change; every other session of theirs ends (`session_id`: this one, kept)."""
    row = services.store.staff.user(user_id=account.id)
    if row is None or not _verify(row.password_hash, current):
        raise ValidationFailed("The current password is wrong.", fields={"current_password": "is wrong"})
    if problem := password_problem(new, username=row.username, user_inputs=(row.display_name,)):
        raise ValidationFailed("Choose another password.", fields={"new_password": problem})
    if new == current:
        raise ValidationFailed("Choose another password.", fields={"new_password": "must differ from the current one"})
    services.store.staff.update_user(row.id, at=services.clock.now(), password_hash=HASHER.hash(new),
                                     must_change_password=False)
    ended = end_sessions(services, row.id, reason="password_changed", keep=session_id)
    audit.record(services, f"{row.role}:{row.username}", "auth.password_changed", site=_home_site(row),
                 subject=f"user:{row.username}", detail={"other_sessions_ended": ended})


def set_pin(services: Services, account: Account, *, pin: str, actor: str) -> None:
    if not PIN.fullmatch(pin):
        raise ValidationFailed("A PIN is 4 to 8 digits.", fields={"pin": "4 to 8 digits"})
    services.store.staff.update_user(account.id, at=services.clock.now(), pin_hash=HASHER.hash(pin), pin_failures=0)
    audit.record(services, actor, "user.changed", subject=f"user:{account.username}", detail={"pin": "set"})


def reset_password(services: Services, username: str, *, actor: str, password: str | None = None,
                   must_change: bool = True) -> str:
    """A new password (generated unless given), to be changed at next sign-in unless
    `must_change` is False (the demo's known passwords); ends every session."""
    row = services.store.staff.require_user(normalise_username(username))
    if password is None:
        password = generate_password()
    elif problem := password_problem(password, username=row.username, user_inputs=(row.display_name,)):
        raise ValidationFailed("Choose another password.", fields={"password": problem})
    services.store.staff.update_user(
        row.id, at=services.clock.now(), password_hash=HASHER.hash(password), must_change_password=must_change,
        pin_failures=0,
    )
    end_sessions(services, row.id, reason="password_reset")
    audit.record(services, actor, "user.password_reset", site=_home_site(row), subject=f"user:{row.username}")
    return password


def set_active(services: Services, username: str, *, active: bool, actor: str) -> Account:
    row = services.store.staff.require_user(normalise_username(username))
    services.store.staff.update_user(row.id, at=services.clock.now(), active=active)
    if not active:
        end_sessions(services, row.id, reason="account_disabled")
    audit.record(services, actor, "user.enabled" if active else "user.disabled", site=_home_site(row),
                 subject=f"user:{row.username}")
    return _existing(services, row.id)
