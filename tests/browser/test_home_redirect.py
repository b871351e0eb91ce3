"""The path /home (an old or typed link) opens the home page in both languages, not Streamlit's English "Page not found"."""
from tests.browser.conftest import assert_no_exception, goto, wait_idle


def test_home_path_opens_the_home_page(page, app):
    for lang in ("en", "zh"):
        goto(page, app, "home", lang=lang)
        wait_idle(page)
        assert_no_exception(page)
        assert page.get_by_text("Page not found").count() == 0
        assert page.locator("h1").count() >= 1
        assert page.url.split("?")[0].rstrip("/") == app  # redirected to "/"
