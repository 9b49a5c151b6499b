"""Languages: Simplified Chinese and English (Flask-Babel), chosen per device.

`?lang=zh_Hans` or `?lang=en` on any page sets the device's language (kept in the session);
otherwise a site's page follows the site's configured language, other pages the browser's
preference, and Chinese is the default.
"""
from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_babel import Babel

from app.domain.errors import DomainError
from app.flow.services import services_of
from app.flow.sites import site_config

from . import labels

LANGUAGES = ("zh_Hans", "en")
DEFAULT = "zh_Hans"

babel = Babel()


def select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    site_id = (request.view_args or {}).get("site")
    if site_id:
        try:
            return site_config(services_of(current_app), site_id).language
        except DomainError:
            pass  # an unknown site: its page answers 404 in the browser's language
    best = request.accept_languages.best_match(["zh", "zh-CN", "zh-Hans", "en"])
    if best is None:
        return DEFAULT
    return "en" if best.startswith("en") else "zh_Hans"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    labels.init_app(app)  # codes, devices and times as the pages show them

    @app.context_processor
    def _languages():
        from flask_babel import get_locale

        locale = get_locale()
        return {"languages": LANGUAGES, "html_lang": "zh-Hans" if locale and locale.language == "zh" else "en"}
