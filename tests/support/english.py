"""English left on a Chinese page: the Latin words in its text that are not names or codes."""
from __future__ import annotations

import re

# Latin words a Chinese page may show: names and codes, not language. Anything else is a string
# that escaped translation (or a code shown raw).
ALLOWED = frozenset({
    "SiteFlow",  # the product's name
    "English",  # the language link, written in its own language
    "OpenAPI",  # the name of the API description format (home page)
    "CSV", "XLSX", "JSON",  # the download formats
    "PIN",  # as in "PIN 码"
    "demo",  # the demo site's id, a code (as in its URLs)
    "admin", "Administrator",  # the first admin's username and display name: data, set by `siteflow init`
    "Chrome", "Linux",  # the browser and system of a signed-in session (sessions page): brand names
    "Vero", "CHO",  # the cell lines in the vaccines' official Chinese names (新型冠状病毒灭活疫苗（Vero细胞）…)
    "nurse",  # the station tests' account name: data
})
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2,}(?![A-Za-z0-9])")  # not inside a lot, ticket or id
URL = re.compile(r"https?://\S+")


def english(text: str, *, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The words of `text` that escaped translation (or are a code shown raw), sorted."""
    return sorted({word for word in WORD.findall(URL.sub(" ", text)) if word not in ALLOWED | allowed})
