"""The whole app under AppTest: navigation in learning order, shared sidebar, language, presenter mode."""
from __future__ import annotations

from pathlib import Path

import pytest

from streamlit.testing.v1 import AppTest

from explainer.i18n import translate
from tests.pagewalk import undeclared
from ui.nav import LESSONS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _pages_folder_flag_as_on_a_server(server_like_pages):
    """Every run here sees Streamlit's pages-folder flag as a server does (tests.conftest.server_like_pages)."""


def _app():
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)


def test_lessons_in_learning_order():
    urls = [u for *_, u in LESSONS]
    assert urls == ["home", "images", "kernels", "xo", "stride", "pooling", "optimizers", "backprop", "train", "network", "poll"]


def test_opens_on_home_with_sidebar():
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == translate("home.title", "en")
    assert at.sidebar.selectbox(key="lang").value == "en"
    assert at.sidebar.toggle(key="presenter").value is False
    # the sidebar's widgets, as Streamlit drew them (however the entry script made them), are declared (ui/tables/app.py)
    drawn = {w.key for w in (*at.sidebar.selectbox, *at.sidebar.toggle)}
    assert {"lang", "presenter", "predict"} <= drawn and undeclared(at) == []


def test_every_existing_page_runs_from_the_app():
    at = _app().run()
    for path, key, *_ in LESSONS:
        if not (ROOT / path).exists():
            continue
        at.switch_page(path).run()
        assert not at.exception, (path, at.exception)
        assert len(at.title) >= 1, path
        assert undeclared(at) == [], path  # the page with the entry script's sidebar around it


def test_switching_language_translates_the_page():
    at = _app().run()
    at.sidebar.selectbox(key="lang").select("zh").run()
    assert not at.exception
    assert at.title[0].value == translate("home.title", "zh")
    assert at.query_params["lang"] == "zh"


def test_link_with_language_opens_in_chinese():
    at = _app()
    at.query_params["lang"] = "zh"
    at.run()
    assert at.title[0].value == translate("home.title", "zh")


def test_presenter_mode_hides_side_notes():
    at = _app().run()
    notes = len(at.caption)
    at.sidebar.toggle(key="presenter").set_value(True).run()
    assert not at.exception
    assert len(at.caption) < notes
