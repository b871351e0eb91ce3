"""The text catalogue: both languages complete, placeholders match, every key used in code exists."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from explainer.i18n import LANGUAGES, catalogue, translate

ROOT = Path(__file__).resolve().parents[1]


def _fields(text: str) -> set[str]:
    """The ``{name}`` placeholders (LaTeX texts like ``\\frac{a}{b}`` have braces that are not)."""
    return set(re.findall(r"(?<!\\)\{([a-z_][a-z0-9_]*)\}", text))


def test_languages_have_the_same_keys():
    en, zh = catalogue("en"), catalogue("zh")
    assert set(en) - set(zh) == set(), "keys missing in Chinese"
    assert set(zh) - set(en) == set(), "keys only in Chinese"
    assert len(en) > 50


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_no_empty_text(lang):
    empty = [k for k, v in catalogue(lang).items() if not str(v).strip()]
    assert empty == []


def test_placeholders_match():
    en, zh = catalogue("en"), catalogue("zh")
    bad = {k: (_fields(en[k]), _fields(zh[k])) for k in en if isinstance(en[k], str) and _fields(en[k]) != _fields(zh[k])}
    assert bad == {}


def test_chinese_is_chinese():
    """Long Chinese texts contain CJK characters (not an untranslated copy of the English)."""
    zh, en = catalogue("zh"), catalogue("en")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    untranslated = [k for k, v in zh.items()
                    if isinstance(v, str) and len(re.sub(r"\{[a-z_]+\}", "", v)) > 25 and not cjk.search(v) and v == en.get(k)
                    and "\\" not in v]  # formulas are the same in both languages
    assert untranslated == []


def _keys_used_in_code() -> set[str]:
    pattern = re.compile(r"""\bt\(\s*f?["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")
    used = set()
    for folder in ("pages", "ui"):
        for f in (ROOT / folder).rglob("*.py"):
            used.update(pattern.findall(f.read_text(encoding="utf-8")))
    used |= set(re.findall(r'"(nav\.[a-z]+)"', (ROOT / "ui" / "nav.py").read_text()))
    return used


def test_every_literal_key_exists():
    en = catalogue("en")
    used = _keys_used_in_code()
    assert len(used) > 20
    missing = sorted(k for k in used if k not in en)
    assert missing == []


def test_translate_formats_and_falls_back():
    assert translate("errors.no_output", "en", n=3, k=5, d=1, p=0, s=1).startswith("With input size 3")
    assert "3" in translate("errors.no_output", "zh", n=3, k=5, d=1, p=0, s=1)
    assert translate("no.such.key", "zh") == "no.such.key"
    with pytest.raises(ValueError):
        catalogue("fr")
