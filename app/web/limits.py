"""Rate limits on guessing: sign-in and display pairing (Flask-Limiter).

Counters live in Redis when one is configured (shared by every process), in memory otherwise.
Only failures count: ten wrong passwords for one account within ten minutes, and the eleventh
attempt is refused with 429 whatever the password.
"""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.flow.accounts import normalise_username

limiter = Limiter(key_func=get_remote_address, strategy="moving-window", headers_enabled=True)

FAILED_SIGN_INS_PER_ACCOUNT = "10 per 10 minutes"
FAILED_SIGN_INS_PER_ADDRESS = "50 per 10 minutes"
FAILED_PAIRINGS_PER_CALLER = "10 per 10 minutes"
PAIRING_REQUESTS_PER_ADDRESS = "30 per hour"


def account_key() -> str:
    return "account:" + normalise_username(request.form.get("username", ""))[:64]


def failed(response) -> bool:
    return response.status_code in (401, 404)


def init_app(app: Flask) -> None:
    limiter.init_app(app)
