"""Rate limits on guessing: sign-in and display pairing (Flask-Limiter).

Counters live in Redis when one is configured (shared by every process), in memory otherwise;
when Redis is down they fall back to this process's memory (a warning in the log), so signing
in never fails because of it. Only failures count.

Sign-in is limited per account and address (with backoff: 5 a minute, 10 in 10 minutes, 20 an
hour), per account from anywhere (30 an hour: a guess spread over many addresses), and per
address (1,000 in 10 minutes: a site's 40 tablets share one NAT address, so one mistyping
colleague must not lock out the others). A refusal tells the person when to try again, and is
in the audit trail.
"""
from __future__ import annotations

import math
import time

from flask import Flask, g, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits import parse_many

from app.flow import audit
from app.flow.accounts import normalise_username

from .context import services

limiter = Limiter(key_func=get_remote_address, strategy="moving-window", headers_enabled=True,
                  in_memory_fallback_enabled=True, swallow_errors=True)

FAILED_SIGN_INS_PER_ACCOUNT_AND_ADDRESS = "5 per minute;10 per 10 minutes;20 per hour"
FAILED_SIGN_INS_PER_ACCOUNT = "30 per hour"
FAILED_SIGN_INS_PER_ADDRESS = "1000 per 10 minutes"
FAILED_PAIRINGS_PER_CALLER = "10 per 10 minutes"
PAIRING_REQUESTS_PER_ADDRESS = "30 per hour"
# A site's guest Wi-Fi puts every phone behind one address: generous for people, useless for guessing
# (a code is one of 2^128).
TICKET_GUESSES_PER_ADDRESS = "30 per minute;300 per hour"


def _username() -> str:
    return normalise_username(request.form.get("username", ""))[:64]


def account_key() -> str:
    return "account:" + _username()


def account_address_key() -> str:
    return f"account:{_username()}@{get_remote_address()}"


def failed(response) -> bool:
    return response.status_code in (401, 404)


def locked(limit: RequestLimit) -> None:
    """A sign-in refused by a limit: when it may be tried again (for the page), in the audit trail."""
    seconds = max(1, math.ceil(limit.reset_at - time.time()))
    g.retry_after_minutes = math.ceil(seconds / 60)
    name = _username()
    audit.record(services(), f"user:{name}", "auth.locked", outcome=audit.Outcome.REFUSED, subject=f"user:{name}",
                 detail={"limit": str(limit.limit), "retry_after_seconds": seconds}, remote_addr=request.remote_addr)


def sign_in_limits(view):
    """The three sign-in limits, on a sign-in view."""
    for rule, key in ((FAILED_SIGN_INS_PER_ADDRESS, get_remote_address), (FAILED_SIGN_INS_PER_ACCOUNT, account_key),
                      (FAILED_SIGN_INS_PER_ACCOUNT_AND_ADDRESS, account_address_key)):
        view = limiter.limit(rule, key_func=key, deduct_when=failed, on_breach=locked)(view)
    return view


class Guesses:
    """Failures counted per caller address, in the limiter's storage, for doors that are not
    plain views (the live channel) as well as views."""

    def __init__(self, name: str, rule: str):
        self.name = name
        self.items = parse_many(rule)

    def allowed(self) -> bool:
        try:
            return all(limiter.limiter.test(item, self.name, get_remote_address()) for item in self.items)
        except Exception:  # noqa: BLE001 - a limiter without storage must not close the door
            return True

    def failed(self) -> None:
        try:
            for item in self.items:
                limiter.limiter.hit(item, self.name, get_remote_address())
        except Exception:  # noqa: BLE001
            pass


ticket_guesses = Guesses("ticket-code", TICKET_GUESSES_PER_ADDRESS)


def init_app(app: Flask) -> None:
    limiter.init_app(app)
