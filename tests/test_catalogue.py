"""The text catalogue: both languages complete, placeholders match, every key used in code exists."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from explainer.i18n import LANGUAGES, catalogue, translate

ROOT = Path(__file__).resolve().parents[1]


def _fields(text: str) -> set[str]:
    """The ``{name}`` placeholders (LaTeX texts like ``\\frac{a}{b}`` have braces that are not)."""
    return set(re.findall(r"(?<!\\)\{([A-Za-z_][A-Za-z0-9_]*)(?:![rsa])?(?::[^{}]*)?\}", text))


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
    for f in (ROOT / "pages").glob("*.py"):  # helpers that build keys: section(page, name), lesson_views(page, ...)
        text = f.read_text(encoding="utf-8")
        for page, name in re.findall(r"""\bsection\(\s*["'](\w+)["'],\s*["'](\w+)["']\)""", text):
            used |= {f"{page}.{name}_header", f"{page}.{name}_intro"}
        for page in re.findall(r"""\blesson_views\(\s*["'](\w+)["']""", text):
            used |= {f"{page}.title", f"{page}.intro", f"{page}.view"}
    return used


def _dynamic_families() -> set[tuple[str, str]]:
    """``(prefix, suffix)`` of every key built at run time: ``t(f"stride.preset_{p}_help")`` gives
    ("stride.preset_", "_help"), ``labels("pool.mode_")`` gives ("pool.mode_", "")."""
    f_key = re.compile(r"""\bt\(\s*f["']([a-z0-9_.]*)\{[^}]*\}([a-z0-9_.]*)["']""")
    label = re.compile(r"""\blabels\(\s*f?["']([a-z0-9_]+\.[a-z0-9_.]*)["']""")
    families = set()
    for folder in ("pages", "ui"):
        for f in (ROOT / folder).rglob("*.py"):
            text = f.read_text(encoding="utf-8")
            families |= set(f_key.findall(text))
            families |= {(prefix, "") for prefix in label.findall(text)}
    return families


def test_every_dynamic_key_family_has_keys():
    """A key built at run time (``t(f"...{x}...")``, ``labels(prefix)``) names a family the catalogue has."""
    en = catalogue("en")
    families = _dynamic_families()
    assert len(families) > 15 and ("stride.preset_", "_help") in families and ("pooling.mode_", "") in families
    empty = sorted(f for f in families if not any(k.startswith(f[0]) and k.endswith(f[1]) and len(k) > len(f[0] + f[1])
                                                  for k in en))
    assert empty == []


def test_error_messages_name_the_setting_in_the_learners_language():
    from explainer.errors import UserError, message

    params = {"param": "learning_rate", "lo": 0, "hi": 10, "value": 20}
    assert message("errors.out_of_range", params, "zh") == "学习率必须在 0 到 10 之间，而不是 20。"
    assert message("errors.out_of_range", params, "en") == "The learning rate must be between 0 and 10, not 20."
    assert str(UserError("errors.out_of_range", **params)) == "The learning rate must be between 0 and 10, not 20."


def _user_errors_in_the_library() -> list[tuple[str, str, dict]]:
    """``(file:line, key, {keyword: literal or None})`` of every ``UserError("key", ...)`` in explainer/."""
    import ast

    found = []
    for f in sorted((ROOT / "explainer").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "UserError" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                kw = {k.arg: k.value.value if isinstance(k.value, ast.Constant) else None for k in node.keywords}
                found.append((f"{f.name}:{node.lineno}", node.args[0].value, kw))
    return found


def test_every_library_error_has_its_key_placeholders_and_setting_names():
    en = catalogue("en")
    errors = _user_errors_in_the_library()
    assert len(errors) > 40
    for where, key, kw in errors:
        assert key in en, (where, key)
        assert _fields(en[key]) == set(kw), (where, key, sorted(kw))
        if kw.get("param") is not None:
            assert f"errors.param.{kw['param']}" in en, (where, kw["param"])
    settings = re.findall(r"""_pair\([^,]+,\s*["']([a-z_]+)["']""", "".join(
        f.read_text(encoding="utf-8") for f in (ROOT / "explainer").rglob("*.py")))
    assert settings and all(f"errors.param.{name}" in en for name in settings)


_IDENTIFIERS = re.compile(r"[a-z0-9_]+(?:(?: / |, )[a-z0-9_]+)*")  # "max / avg", "none / sum / count": option values


def _strings_in(node) -> list[str]:
    """The string literals an expression writes into a message: its constants and an f-string's text, not
    an f-string's format specs (``f"{x:g}"``) nor a keyword argument's name."""
    import ast

    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else []
    if isinstance(node, ast.FormattedValue):
        return _strings_in(node.value)
    return [s for child in ast.iter_child_nodes(node) for s in _strings_in(child)]


def test_no_english_fragment_is_passed_into_a_library_error():
    """A ``UserError``'s parameter values carry numbers, shapes ("3×4"), what the user typed, option values
    ("max / avg") or catalogue words (``param=``), never words of a sentence: those belong in the catalogue,
    in both languages ("学习率必须是between 0 and 10" is what a fragment looks like in Chinese)."""
    import ast

    fragments = []
    for f in sorted((ROOT / "explainer").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "UserError"):
                continue
            for k in node.keywords:
                if k.arg == "param":
                    ok = isinstance(k.value, ast.Name) or (isinstance(k.value, ast.Constant)
                                                           and re.fullmatch(r"[a-z0-9_]+", str(k.value.value)))
                    if not ok:
                        fragments.append((f"{f.name}:{node.lineno}", k.arg, ast.unparse(k.value)))
                    continue
                for text in _strings_in(k.value):
                    if re.search(r"[A-Za-z]", text) and not _IDENTIFIERS.fullmatch(text):
                        fragments.append((f"{f.name}:{node.lineno}", k.arg, text))
    assert fragments == []


def test_the_fragment_check_catches_fragments():
    import ast

    def texts(src):
        return [t for t in _strings_in(ast.parse(src, mode="eval").body)
                if re.search(r"[A-Za-z]", t) and not _IDENTIFIERS.fullmatch(t)]

    assert texts('f"the input must be 2-D, got {x.shape}"') == ["the input must be 2-D, got "]
    assert texts('"between 0 and 10"') == ["between 0 and 10"]
    assert texts('" / ".join(NAMES)') == [] and texts('"max / avg"') == [] and texts('f"{lr:g}"') == []
    assert texts('shape_text(x.shape)') == [] and texts('f"{a}×{b}"') == []


def test_every_literal_key_exists():
    en = catalogue("en")
    used = _keys_used_in_code()
    assert len(used) > 20 and {"stride.transposed_header", "pooling.xo_intro", "kernels.view"} <= used
    missing = sorted(k for k in used if k not in en)
    assert missing == []


def test_translate_formats_and_falls_back():
    assert translate("errors.no_output", "en", n=3, k=5, d=1, p=0, s=1).startswith("With input size 3")
    assert "3" in translate("errors.no_output", "zh", n=3, k=5, d=1, p=0, s=1)
    assert translate("no.such.key", "zh") == "no.such.key"
    with pytest.raises(ValueError):
        catalogue("fr")


# ---------------------------------------------------------------- counts: plural forms, not "(s)"
def test_no_plural_hedge_in_english():
    """"2 kernel(s)", "1 channel(s)": a count's noun takes its form from the catalogue's plural family instead."""
    hedged = {k: v for k, v in catalogue("en").items() if isinstance(v, str) and re.search(r"\w\((?:s|es)\)", v)}
    assert hedged == {}


def _plural_stems(cat: dict) -> set[str]:
    """Keys with both forms (``kernels.shift_one`` alone is "shift the 1", not a plural family)."""
    return {k[:-4] for k in cat if k.endswith("_one") and f"{k[:-4]}_other" in cat}


def test_plural_families_are_complete():
    """Both forms of a family have the same placeholders, in both languages (a family used in code has both forms:
    ``test_every_count_key_has_both_forms``); Chinese has no plural, so its two forms are the same text."""
    from explainer.i18n import PLURAL_FORMS

    for lang in LANGUAGES:
        cat = catalogue(lang)
        stems = _plural_stems(cat)
        assert len(stems) >= 10
        for stem in stems:
            forms = [cat[f"{stem}_{f}"] for f in PLURAL_FORMS]
            assert _fields(forms[0]) == _fields(forms[1]), (lang, stem)
            if lang == "zh":
                assert forms[0] == forms[1], stem


def _count_keys_used_in_code() -> set[str]:
    pattern = re.compile(r"""\b(?:tn|translate_n)\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")
    used = set()
    for folder in ("pages", "ui", "explainer"):
        for f in (ROOT / folder).rglob("*.py"):
            used.update(pattern.findall(f.read_text(encoding="utf-8")))
    return used


def test_every_count_key_has_both_forms():
    used = _count_keys_used_in_code()
    assert {"chart.filled", "chart.lines", "stride.channels_shape", "pooling.size_text", "pooling.windows"} <= used
    en = catalogue("en")
    assert sorted(k for k in used if f"{k}_one" not in en or f"{k}_other" not in en) == []


def test_counts_take_the_right_form():
    from explainer.i18n import translate_n

    assert translate_n("chart.filled", 1, "en", total=9) == "; 1 of 9 cells has a value"
    assert translate_n("chart.filled", 3, "en", total=9) == "; 3 of 9 cells have a value"
    assert translate_n("chart.lines", 1, "en") == "1 line: " and translate_n("chart.lines", 2, "en") == "2 lines: "
    assert translate_n("chart.lines", 0, "en") == "0 lines: "
    assert translate_n("pooling.windows", 1, "en") == "1 window" and translate_n("pooling.windows", 4, "en") == "4 windows"
    one = translate_n("stride.channels_shape", 1, "en", n=5, c=3, k=1, f=3, ho=3, wo=3, slices=3, params=28, bias="1")
    assert "1 kernel of 3×3×3" in one and "kernels" not in one.split("→")[0]
    two = translate_n("stride.channels_shape", 2, "en", n=5, c=3, k=2, f=3, ho=3, wo=3, slices=6, params=56, bias="1, 0")
    assert "2 kernels of 3×3×3" in two
    assert translate_n("pooling.windows", 1, "zh") == translate_n("pooling.windows", 4, "zh").replace("4", "1")
    # the English forms: with the count 1, no noun right after "{count} " ends in a plural -s that its
    # "_other" form also has (catches a "_one" text copied from "_other")
    en = catalogue("en")
    for stem in _plural_stems(en):
        assert en[f"{stem}_one"] != en[f"{stem}_other"], stem
