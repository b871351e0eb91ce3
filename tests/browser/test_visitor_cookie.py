"""The engine's fair share counts a visitor by its browser (issue 21 item 1): the first page a browser opens sets a
first-party cookie ``ce_visitor`` (``ui.jobs.visitor_cookie``); every further tab of that browser sends it, so the
server counts all its tabs as one visitor (``ui.jobs.visitor``) — ``limits.JOBS_PER_VISITOR`` trainings across
them, the next tab is told why — while another browser (another context: other cookies) is another visitor."""
from __future__ import annotations

import re

from explainer import limits
from explainer.i18n import translate
from tests.browser.conftest import assert_no_exception, goto

LONG = dict(tr_model="mlp", tr_size="60000", tr_epochs="3")  # still running while the next tabs press Start
COOKIE = re.compile(r"(?:^|; )ce_visitor=([0-9a-f]{32})")


def _cookie(page) -> str | None:
    m = COOKIE.search(page.evaluate("document.cookie"))
    return m.group(1) if m else None


def _sets_cookie(page) -> bool:
    """The page carries the script that sets the cookie: the server got no ``ce_visitor`` with this session."""
    return "ce_visitor=" in page.content()


def test_tabs_of_one_browser_are_one_visitor(browser, app):
    one = browser.new_context(viewport={"width": 1280, "height": 900})
    two = browser.new_context(viewport={"width": 1280, "height": 900})
    started = []
    try:
        first = one.new_page()
        goto(first, app, "train", **LONG)
        first.wait_for_function("() => /(^|; )ce_visitor=[0-9a-f]{32}/.test(document.cookie)", timeout=15_000)
        value = _cookie(first)
        assert _sets_cookie(first), "the first tab of a browser is given the cookie"
        tabs = [first]
        for _ in range(limits.JOBS_PER_VISITOR):
            tab = one.new_page()
            goto(tab, app, "train", **LONG)
            assert _cookie(tab) == value, "a browser's tabs share one cookie"
            assert not _sets_cookie(tab), "the server read the cookie the tab sent (it would set a new one)"
            tabs.append(tab)
        for tab in tabs[:-1]:
            tab.get_by_role("button", name="▶ Start training").click()
            tab.wait_for_selector('[data-testid="stProgress"]', timeout=120_000)  # the engine starts on first use
            started.append(tab)
        # the next tab of the same browser is the same visitor: refused, and told why
        tabs[-1].get_by_role("button", name="▶ Start training").click()
        cap = translate("jobs.visitor_cap", "en", n=limits.JOBS_PER_VISITOR)
        tabs[-1].get_by_text(cap.split(":")[0]).wait_for(timeout=60_000)
        assert tabs[-1].locator('[data-testid="stProgress"]').count() == 0
        # another browser is another visitor: its own cookie, and its Start is accepted
        other = two.new_page()
        goto(other, app, "train", **LONG)
        other.wait_for_function("() => /(^|; )ce_visitor=[0-9a-f]{32}/.test(document.cookie)", timeout=15_000)
        assert _cookie(other) not in (None, value)
        other.get_by_role("button", name="▶ Start training").click()
        other.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)
        started.append(other)
        assert other.get_by_text(cap.split(":")[0]).count() == 0
        for tab in tabs + [other]:
            assert_no_exception(tab)
    finally:
        for tab in started:  # leave the engine free for the next tests
            try:
                tab.get_by_role("button", name="■ Stop (keep what was learned)").click(timeout=5_000)
            except Exception:  # noqa: BLE001 — the tab is gone; its heartbeat stops and the worker ends the job
                pass
        one.close()
        two.close()
