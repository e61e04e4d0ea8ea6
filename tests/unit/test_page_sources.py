"""Static checks of the page's sources: translations complete, no HTML injection sinks."""

from __future__ import annotations

import re
from pathlib import Path

from digitlab.web.strings import STRINGS as CANVAS_STRINGS

ROOT = Path(__file__).resolve().parents[2]


def page_tables() -> dict[str, set[str]]:
    """The keys of each language table in js/i18n.js."""
    source = (ROOT / "js" / "i18n.js").read_text()
    tables = {}
    for match in re.finditer(r'^  "?([\w-]+)"?: \{\n(.*?)^  \},', source, re.M | re.S):
        tables[match[1]] = set(re.findall(r'^    "([\w.]+)":', match[2], re.M))
    return tables


def test_page_strings_have_the_same_keys_in_every_language() -> None:
    tables = page_tables()
    assert set(tables) == {"en", "zh-CN"}
    assert len(tables["en"]) > 50
    assert tables["en"] - tables["zh-CN"] == set(), "missing in Chinese"
    assert tables["zh-CN"] - tables["en"] == set(), "missing in English"


def test_canvas_strings_have_the_same_keys_in_every_language() -> None:
    assert set(CANVAS_STRINGS) == set(page_tables())
    assert set(CANVAS_STRINGS["en"]) == set(CANVAS_STRINGS["zh-CN"])


def test_every_data_i18n_key_in_the_page_exists() -> None:
    html = (ROOT / "index.html").read_text()
    used = set(re.findall(r'data-i18n="([\w.]+)"', html))
    assert used and used <= page_tables()["en"], used - page_tables()["en"]


def test_no_html_injection_sinks_or_eval_in_the_page_code() -> None:
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|"
                       r"new Function")
    for path in (ROOT / "js").glob("*.js"):
        found = sinks.findall(path.read_text())
        assert not found, f"{path.name} uses {found}"
    assert "<script>" not in (ROOT / "index.html").read_text(), "inline script breaks the CSP"
