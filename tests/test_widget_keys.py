"""Every widget key of every page has one meaning.

The pages are walked, not listed by hand: each page starts at its defaults, then every option of
every choice widget it shows (select boxes, radios, segmented controls, toggles and checkboxes) is
tried once, deepest widget first, so the widgets a view or a source reveals are seen too. Each key
must always be the same kind of widget with the same label, on its page and across pages: two
meanings for one key share one value in the session and the URL (``sp_top`` was once both the crop's
top row and the transposed view's output padding, so one overwrote the other).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from streamlit.testing.v1.element_tree import ButtonGroup, Checkbox, Radio, Selectbox, Toggle, Widget
from streamlit.runtime.state.common import TESTING_KEY

from tests.conftest import app_test
from tests.pagewalk import undeclared
from ui.nav import LESSONS

ROOT = Path(__file__).resolve().parents[1]
PAGES = [Path(path).stem for path, *_ in LESSONS if (ROOT / path).exists()]
MAX_OPTIONS = 12  # options tried per choice widget (an image picker has a dozen; more adds runs, not keys)


def _widgets(at) -> list[Widget]:
    return [node for node in at._tree if isinstance(node, Widget) and node.key]


def _meaning(w: Widget) -> tuple[str, str]:
    return type(w).__name__, getattr(w, "label", "")


def _choices(w: Widget) -> list:
    """What the walk may set ``w`` to: the shown option texts, or True/False for a switch."""
    if getattr(w.proto, "disabled", False):  # a learner can't change it either
        return []
    if isinstance(w, (Toggle, Checkbox)):
        return [True, False]
    if isinstance(w, ButtonGroup) and not w._is_single_select:  # multi-select pills: not a view switch
        return []
    if isinstance(w, (Selectbox, Radio, ButtonGroup)):  # the special option ("custom", "upload" …) usually comes last
        options = list(w.options)
        return options if len(options) <= MAX_OPTIONS else options[:MAX_OPTIONS - 1] + options[-1:]
    return []


def _choose(at, w: Widget, choice) -> None:
    """Set ``w`` to a shown option text (what the browser sends), whatever its ``format_func``."""
    if not isinstance(choice, bool):
        at.session_state[TESTING_KEY][w.id] = str  # the option texts are already formatted
    w.set_value(choice)


def walk(page: str) -> dict[str, set[tuple[str, str]]]:
    """``{key: {(widget type, label), …}}`` over every state the walk reaches on ``page``; the option texts
    shown are kept under the key ``"<options>"``, the widgets no table declares (``tests.pagewalk.undeclared``) under
    ``"<undeclared>"``."""
    at = app_test(page, timeout=60).run()
    meanings: dict[str, set] = defaultdict(set)
    tried: set = set()
    while True:
        assert not at.exception, (page, at.exception)
        widgets = _widgets(at)
        meanings["<undeclared>"].update(("undeclared", why) for why in undeclared(at))
        for w in widgets:
            meanings[w.key].add(_meaning(w))
            meanings["<options>"].update(("option", str(o)) for o in getattr(w, "options", []) or [])
        todo = [(w, c) for w in reversed(widgets) for c in _choices(w) if (w.key, c) not in tried]
        if not todo:
            return meanings
        w, choice = todo[0]
        tried.add((w.key, choice))
        _choose(at, w, choice)
        at.run()


@pytest.fixture(scope="module")
def walked() -> dict[str, dict[str, set]]:
    return {page: walk(page) for page in PAGES}


def test_every_page_is_walked(walked):
    assert set(walked) == {f.stem for f in (ROOT / "pages").glob("*.py")}  # every page file the app has
    # the walk reaches widgets that only a choice reveals: the stride page's transposed view and its image crop
    assert {"sp_tn", "sp_crop", "sp_img_src"} <= set(walked["stride"])
    assert {"pl_levels", "pl_dy", "pl_photo_src"} <= set(walked["pooling"])


def test_no_label_or_option_is_an_untranslated_key(walked):
    """A label built at run time (``t(f"...")``, ``labels(prefix)``) whose key is missing shows the key itself."""
    key_like = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    shown = {text for keys in walked.values() for m in keys.values() for _, text in m}
    assert len(shown) > 100
    assert sorted(text for text in shown if key_like.match(text)) == []


def test_each_key_has_one_meaning_on_its_page(walked):
    clashes = {(page, key): sorted(m) for page, keys in walked.items() for key, m in keys.items()
               if len(m) > 1 and not key.startswith("<")}
    assert not clashes, clashes


def test_each_key_has_one_meaning_across_pages(walked):
    across: dict[str, set] = defaultdict(set)
    pages: dict[str, set] = defaultdict(set)
    for page, keys in walked.items():
        for key, m in keys.items():
            if not key.startswith("<"):
                across[key] |= m
                pages[key].add(page)
    clashes = {key: (sorted(pages[key]), sorted(m)) for key, m in across.items() if len(m) > 1}
    assert not clashes, clashes


def test_every_widget_a_page_creates_is_declared(walked):
    """Every value widget drawn in any state the walk reaches, however the page created it (``ui.shell.widget`` or a
    bare ``st.number_input``), is declared in a table (``ui/tables/``) and its value and range fit the declaration."""
    assert {page: sorted(why for _, why in keys["<undeclared>"]) for page, keys in walked.items()
            if keys["<undeclared>"]} == {}


@pytest.mark.parametrize("page", PAGES)
def test_every_widget_is_declared_in_chinese_too(page):
    """The same at each page's defaults in Chinese (the walk above runs in English)."""
    at = app_test(page, "zh", timeout=60).run()
    assert not at.exception
    assert undeclared(at) == []
