"""Keep the message catalogues in step with the code: extract, merge, compile.

    python -m app.translations.catalogues          # after changing user-facing strings

Extracts every `_()`/`N_()` string from app/ and templates/ into messages.pot, merges it into
the zh_Hans and en catalogues (English msgstr = msgid), and compiles the .mo files the app
loads. A test fails when a catalogue misses a string or its .mo is out of date.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LOCALES = ("zh_Hans", "en")


def po_path(locale: str) -> Path:
    return HERE / locale / "LC_MESSAGES" / "messages.po"


def extract() -> None:
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(HERE / "babel.cfg"), "-k", "_",
         "-k", "N_", "--no-location", "--sort-output", "--omit-header", "-o", str(HERE / "messages.pot"), "."],
        cwd=ROOT, check=True, capture_output=True,
    )


def compile_catalogue(locale: str) -> bytes:
    with po_path(locale).open("rb") as source:
        catalog = read_po(source, locale=locale)
    import io

    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def merge(locale: str, template) -> list[str]:
    """Add new strings (English: copied; others: empty, to be translated); returns the missing ones."""
    path = po_path(locale)
    if path.exists():
        with path.open("rb") as source:
            catalog = read_po(source, locale=locale)
    else:
        from babel.messages.catalog import Catalog

        catalog = Catalog(locale=locale, project="SiteFlow")
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    for message in catalog:
        if message.fuzzy:  # a guess from a similar string is not a translation
            message.flags.discard("fuzzy")
            message.string = ""
    if locale == "en":
        for message in catalog:
            if message.id and _untranslated(message):
                message.string = message.id
    for message in list(catalog.obsolete.values()):
        del catalog.obsolete[message.id]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_po(out, catalog, no_location=True, sort_output=True, omit_header=False, width=100)
    return [message.id for message in catalog if message.id and _untranslated(message)]


def _untranslated(message) -> bool:
    """No translation yet (a plural message's string is a tuple of forms)."""
    forms = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
    return not any(forms)


def main() -> int:
    extract()
    with (HERE / "messages.pot").open("rb") as source:
        template = read_po(source)
    missing = {}
    for locale in LOCALES:
        missing[locale] = merge(locale, template)
        (po_path(locale).with_suffix(".mo")).write_bytes(compile_catalogue(locale))
    for locale, ids in missing.items():
        for message_id in ids:
            print(f"{locale}: untranslated: {message_id}")
    return 1 if any(missing.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
