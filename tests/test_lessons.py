"""What a lesson needs, for every lesson of ``ui/nav.py`` (the one list of lessons; the recipe in CONTRIBUTING.md).

``missing(lesson)`` lists what a lesson lacks: its page (starting with ``import ui.boot``), its declared table (one key
prefix of its own), its catalogue files and navigation title in both languages, its line on the home page, its
questions (asked on its page, worded in both languages), its AppTest file and its browser test. The real lessons
lack nothing; a made-up one lacks all of it (so the check can fail).
"""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from explainer.questions import QUESTIONS
from ui import nav
from ui.nav import LESSONS, Lesson
from ui.tables import PAGES

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("en", "zh")
# the home page is the entry script's first page: tested with the whole app, asks no question and needs no line on
# itself; its browser test is the redirect of "/" to it
PAGE_TESTS = {"home": "tests/test_app.py"}
BROWSER_TESTS = {"home": "tests/browser/test_home_redirect.py"}
NO_QUESTIONS = {"home", "poll"}  # the class poll asks the lessons' questions, none of its own
# lessons whose page-specific browser test is still to write (the accessibility walk and tests/browser/test_app.py
# open every lesson); the test below fails once one is written, so this list can't go stale
NO_BROWSER_TEST_YET = {"images"}


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _first_import(page: Path) -> str | None:
    for node in ast.parse(page.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return ast.unparse(node)
    return None


def _prefixes(name: str) -> set[str]:
    from ui.tables import all_tables

    table = all_tables().get(name)
    return {key.split("_", 1)[0] for key in table.keys()} if table is not None else set()


def missing(lesson: Lesson, root: Path = ROOT) -> list[str]:
    """What ``lesson`` lacks of the recipe (empty: nothing)."""
    name, lacks = lesson.name, []
    if lesson.path != f"pages/{name}.py" or lesson.title != f"nav.{name}":
        lacks.append(f"{name}: page pages/{name}.py and title nav.{name} (not {lesson.path}, {lesson.title})")
    page = root / "pages" / f"{name}.py"
    if not page.is_file():
        lacks.append(f"pages/{name}.py")
    elif _first_import(page) != "import ui.boot":
        lacks.append(f"pages/{name}.py: `import ui.boot` first")
    if not (root / "ui" / "tables" / f"{name}.py").is_file() or name not in PAGES:
        lacks.append(f"ui/tables/{name}.py (in ui.tables.PAGES)")
    elif len(_prefixes(name)) > 1:
        lacks.append(f"ui/tables/{name}.py: one key prefix, not {sorted(_prefixes(name))}")
    for lang in LANGS:
        locales = root / "explainer" / "locales" / lang
        if not (locales / f"{name}.toml").is_file():
            lacks.append(f"explainer/locales/{lang}/{name}.toml")
        if name not in _toml(locales / "nav.toml"):
            lacks.append(f"explainer/locales/{lang}/nav.toml: {name}")
        if name != "home" and f"about_{name}" not in _toml(locales / "home.toml"):
            lacks.append(f"explainer/locales/{lang}/home.toml: about_{name}")
        if name not in NO_QUESTIONS and name not in _toml(locales / "questions.toml"):
            lacks.append(f"explainer/locales/{lang}/questions.toml: [{name}]")
    if name not in NO_QUESTIONS:
        if len(QUESTIONS.get(name, ())) < 2:
            lacks.append(f"explainer/questions.py: 2-4 questions of lesson {name}")
        if page.is_file() and not re.search(rf"""\bask(_all)?\(\s*["']{name}[."']""", page.read_text(encoding="utf-8")):
            lacks.append(f"pages/{name}.py: ask(\"{name}.…\") or ask_all(\"{name}\", …)")
    tests = root / PAGE_TESTS.get(name, f"tests/test_pages_{name}.py")
    if not tests.is_file() or not re.search(rf"""["']{name}[."']""", tests.read_text(encoding="utf-8")):
        lacks.append(f"{tests.relative_to(root)} (AppTest of the page)")
    if not (root / BROWSER_TESTS.get(name, f"tests/browser/test_{name}.py")).is_file() and name not in NO_BROWSER_TEST_YET:
        lacks.append(BROWSER_TESTS.get(name, f"tests/browser/test_{name}.py"))
    return lacks


@pytest.mark.parametrize("lesson", LESSONS, ids=nav.names())
def test_every_lesson_has_what_the_recipe_lists(lesson):
    assert missing(lesson) == []


def test_a_lesson_without_its_files_is_found_out():
    fox = Lesson("pages/fox.py", "nav.fox", "🦊", "fox")
    lacks = missing(fox)
    for needed in ("pages/fox.py", "ui/tables/fox.py (in ui.tables.PAGES)", "explainer/locales/en/fox.toml",
                   "explainer/locales/zh/fox.toml", "explainer/locales/zh/nav.toml: fox",
                   "explainer/locales/en/home.toml: about_fox", "explainer/locales/zh/questions.toml: [fox]",
                   "explainer/questions.py: 2-4 questions of lesson fox", "tests/test_pages_fox.py (AppTest of the page)",
                   "tests/browser/test_fox.py"):
        assert needed in lacks
    assert missing(Lesson("pages/kernels.py", "nav.kernels", "🔍", "kernel"))  # a name that is not its page's
    assert missing(Lesson("pages/kernels.py", "nav.xo", "🔍", "kernels"))  # another lesson's title


def test_the_lessons_are_listed_once():
    names = nav.names()
    assert len(set(names)) == len(names) >= 10
    assert PAGES == ("app", *names)  # the tables (and ui.boot, which loads them) follow the list
    prefixes = {name: _prefixes(name) for name in names}
    assert all(len(p) == 1 for p in prefixes.values()), prefixes
    assert len({p for ps in prefixes.values() for p in ps}) == len(names)  # one prefix per lesson, each its own
    # every lesson page is in the list (no page file outside the navigation)
    assert sorted(p.stem for p in (ROOT / "pages").glob("*.py")) == sorted(names)


def test_no_browser_test_is_waiting_that_exists():
    assert [name for name in NO_BROWSER_TEST_YET if (ROOT / "tests" / "browser" / f"test_{name}.py").is_file()] == []
