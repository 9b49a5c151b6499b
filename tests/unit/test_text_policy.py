"""What free text SiteFlow accepts (app/domain/text.py), and that exports carry nothing that
breaks a spreadsheet (app/flow/report_files.py)."""
from __future__ import annotations

import io
import unicodedata

import pytest
from openpyxl import load_workbook

from app.domain.text import name_problem, normalised, text_problem
from app.flow import report_files

REAL_NAMES = [
    "张三",  # Han
    "买买提·艾力",  # Uyghur name in Han, with the middle dot
    "ئەخمەت ئابدۇللا",  # Uyghur in Arabic script
    "བཀྲ་ཤིས་བདེ་ལེགས",  # Tibetan
    "Нұрсұлтан",  # Kazakh in Cyrillic
    "Nguyễn Thị Minh Khai",  # Vietnamese (precomposed)
    "O'Brien",
    "Jean-Luc Picard",
    "Zoë d’Arc",
    "محمد علي",  # Arabic
    "ᠮᠣᠩᠭᠣᠯ",  # Mongolian script
    "김민준",  # Hangul
    "A",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_of_many_scripts_are_accepted_as_they_are(name):
    assert normalised(name) == name
    assert name_problem(name) is None


def test_names_are_stored_in_nfc_and_trimmed():
    decomposed = "Nguye\u0302\u0303n"  # e + combining circumflex + combining tilde
    assert normalised(f"  {decomposed} ") == "Nguyễn"
    assert unicodedata.is_normalized("NFC", normalised(decomposed))


@pytest.mark.parametrize(("name", "why"), [
    ("张三\uffff", "a noncharacter (U+FFFF)"),
    ("张\ufdd0三", "a noncharacter (U+FDD0)"),
    ("张三\n李四", "a control character (U+000A)"),
    ("\u202eabc", "an invisible formatting character (U+202E)"),  # right-to-left override
    ("\u2066abc\u2069", "an invisible formatting character (U+2066)"),  # isolate
    ("张\u200b三", "an invisible formatting character (U+200B)"),  # zero-width space
    ("张\u200d三", "an invisible formatting character (U+200D)"),  # zero-width joiner
    ("\ufeff张三", "an invisible formatting character (U+FEFF)"),
    ("张\ue000三", "a private-use character (U+E000)"),
    ("张\ud800三", "a surrogate (U+D800)"),
    ("张\x00三", "a control character (U+0000)"),
])
def test_invisible_breaking_and_private_characters_are_refused_by_name(name, why):
    assert name_problem(name) == f"must not contain {why}"


def test_a_name_is_1_to_64_characters():
    assert name_problem("") == "must be 1 to 64 characters"
    assert name_problem("张" * 64) is None
    assert name_problem("张" * 65) == "must be 1 to 64 characters"


def test_notes_may_span_lines_and_nothing_else_invisible():
    assert text_problem("first line\nsecond line", multiline=True) is None
    assert text_problem("first line\nsecond line") == "must not contain a control character (U+000A)"
    assert text_problem("a\rb", multiline=True) == "must not contain a control character (U+000D)"


def test_exports_neutralise_formulas_and_never_carry_a_character_that_breaks_the_file():
    rows = [["=HYPERLINK(\"http://x\")"], ["+1"], ["-2"], ["@SUM(A1)"], ["stored before the rule \uffff\x01"], [3]]
    text = report_files.table_csv(["value"], rows)
    assert text.splitlines()[1:5] == ["\"'=HYPERLINK(\"\"http://x\"\")\"", "'+1", "'-2", "'@SUM(A1)"]
    assert "\uffff" not in text and "\x01" not in text
    book = load_workbook(io.BytesIO(report_files.table_xlsx("Values", ["value"], rows)))
    values = [cell.value for cell in book["Values"]["A"]][1:]
    assert values[4] == "stored before the rule \ufffd\ufffd" and values[5] == 3
