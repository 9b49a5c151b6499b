"""Every user-facing string is in both catalogues, translated, and the compiled files are current."""
from __future__ import annotations

import subprocess
import sys

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app.translations import catalogues


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    target = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(catalogues.HERE / "babel.cfg"),
         "-k", "_", "-k", "N_", "--no-location", "-o", str(target), "."],
        cwd=catalogues.ROOT, check=True, capture_output=True,
    )
    with target.open("rb") as source:
        ids = {message.id for message in read_po(source) if message.id}
    assert len(ids) > 50, "extraction found too few strings: is babel.cfg still right?"
    return ids


@pytest.mark.parametrize("locale", catalogues.LOCALES)
def test_every_string_in_the_code_is_translated(extracted, locale):
    with catalogues.po_path(locale).open("rb") as source:
        catalog = read_po(source, locale=locale)
    translated = {message.id for message in catalog if message.id and message.string and not message.fuzzy}
    missing = sorted(extracted - translated)
    assert missing == [], f"run `python -m app.translations.catalogues` and translate: {missing}"


def _key(text):
    """A plural message's id and strings come as a list or a tuple, depending on the reader."""
    return tuple(text) if isinstance(text, (list, tuple)) else text


@pytest.mark.parametrize("locale", catalogues.LOCALES)
def test_the_compiled_catalogue_matches_its_source(locale):
    with catalogues.po_path(locale).with_suffix(".mo").open("rb") as compiled:
        shipped = {_key(message.id): _key(message.string) for message in read_mo(compiled) if message.id}
    with catalogues.po_path(locale).open("rb") as source:
        wanted = {_key(message.id): _key(message.string) for message in read_po(source, locale=locale) if message.id}
    assert shipped == wanted, "run `python -m app.translations.catalogues` to recompile"


def test_chinese_strings_are_chinese():
    with catalogues.po_path("zh_Hans").open("rb") as source:
        catalog = read_po(source, locale="zh_Hans")
    untouched = [m.id for m in catalog if m.id and m.string == m.id and m.id not in ("PIN", "SiteFlow")]
    assert untouched == []


@pytest.mark.parametrize("locale", catalogues.LOCALES)
def test_every_translation_formats_with_its_placeholders(locale):
    """Templates format every string with `%` (even without variables), so a bare "90%" in a
    translation breaks its page; and a translation must use the placeholders of its source."""
    import re

    with catalogues.po_path(locale).open("rb") as source:
        catalog = read_po(source, locale=locale)
    broken = []
    for message in catalog:
        if not message.id or not message.string or not isinstance(message.id, str):
            continue
        names = set(re.findall(r"%\((\w+)\)s", message.id))
        for text in (message.id, message.string):
            try:
                text % dict.fromkeys(names, "x")
            except (ValueError, KeyError, TypeError) as error:
                broken.append((message.id, text, str(error)))
        if set(re.findall(r"%\((\w+)\)s", message.string)) != names:
            broken.append((message.id, message.string, "placeholders differ"))
    assert broken == []
