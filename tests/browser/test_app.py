"""The app in a real browser: every page renders without an exception, language switch, shared URLs."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_no_exception, goto, screenshot, wait_idle
from ui.nav import available_lessons

PAGES = [url for *_, url in available_lessons()]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_renders(page, app, url):
    goto(page, app, url)
    assert_no_exception(page)
    assert page.locator("h1").first.is_visible()
    # every lesson is in the sidebar navigation, in order
    nav = page.locator('[data-testid="stSidebarNav"] a')
    assert nav.count() == len(available_lessons())
    if url != "poll":  # the class poll opens on its code box (its chart: tests/browser/test_poll.py)
        page.wait_for_selector(".js-plotly-plot", timeout=20_000)  # each lesson shows an interactive figure
    screenshot(page, url)


def test_switch_language(page, app):
    goto(page, app, "images")
    assert page.locator("h1").first.inner_text().strip() == "Images are numbers"
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="简体中文").click()
    wait_idle(page)
    page.wait_for_function("() => document.querySelector('h1') && document.querySelector('h1').innerText.includes('图像就是数字')")
    assert_no_exception(page)
    assert "lang=zh" in page.url
    assert "图像就是数字" in page.locator('[data-testid="stSidebarNav"]').inner_text()
    screenshot(page, "images-zh", full_page=False)


def test_shared_url_restores_view(page, app):
    goto(page, app, "images", im_digit="7", im_numbers="0", lang="zh")
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text().strip() == "图像就是数字"
    digit_input = page.locator('[data-testid="stNumberInput"] input').first
    expect(digit_input).to_have_value("7", timeout=20_000)
    assert "im_digit=7" in page.url


def test_bad_url_parameter_falls_back_with_notice(page, app):
    # toasts vanish after a few seconds: record every toast's text the moment it appears
    page.add_init_script("""window.__toasts = [];
        new MutationObserver(() => document.querySelectorAll('[data-testid="stToast"]').forEach(t => {
            if (t.innerText && !window.__toasts.includes(t.innerText)) window.__toasts.push(t.innerText); }))
        .observe(document, {subtree: true, childList: true, characterData: true});""")
    goto(page, app, "images", im_digit="banana")
    assert_no_exception(page)
    expect(page.locator('[data-testid="stNumberInput"] input').first).to_have_value("0", timeout=20_000)
    page.wait_for_function("() => window.__toasts.some(t => t.includes('im_digit'))", timeout=30_000)


def test_nothing_loaded_from_outside(page, app):
    """A lecture hall without internet still works: every request stays on the app's own server."""
    outside = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((app, "data:", "blob:", "about:")) else None)
    goto(page, app, "images")
    goto(page, app, "")
    assert outside == []
