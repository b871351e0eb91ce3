"""A fresh server whose very first request is a lesson's URL still serves the whole app (sidebar with every
lesson, language, the lesson itself), not the lesson file run on its own from the ``pages/`` folder."""
from __future__ import annotations

from playwright.sync_api import expect

from explainer.i18n import translate
from tests.browser.conftest import assert_no_exception, goto, serve
from ui.nav import available_lessons


def test_a_lessons_url_as_the_first_request_of_a_fresh_server(page):
    with serve() as fresh:
        goto(page, fresh, "stride", lang="zh")
        assert_no_exception(page)
        page.wait_for_function("(t) => document.querySelector('h1') && document.querySelector('h1').innerText.includes(t)",
                               arg=translate("stride.title", "zh"))
        nav = page.locator('[data-testid="stSidebarNav"] a')
        expect(nav).to_have_count(len(available_lessons()))
        assert [a.inner_text().split("\n")[-1].strip() for a in nav.all()] == [translate(key, "zh") for _, key, *_ in available_lessons()]
        expect(page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first).to_be_visible()
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar).to_contain_text("Language / 语言")
        expect(sidebar).to_contain_text(translate("common.presenter", "zh"))
        assert "stride" in page.url and "lang=zh" in page.url
