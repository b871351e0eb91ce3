"""Predict first in a real browser: switch it on, answer Stride's question, the tally goes into the URL; that link
opened in another tab of the same browser shows the tally on Home, opened in someone else's browser it shows none
(nothing stored on the server: the link's tag is the browser's cookie, hashed)."""
from __future__ import annotations

import urllib.parse

from explainer.i18n import translate, translate_n
from explainer.questions import tally_text
from tests.browser.conftest import assert_no_exception, goto, wait_idle


def _answer_right(page, value: str, lesson: str, qid: str, then=lambda: None) -> str:
    """Type ``value`` into the question's box, Check, see it right (then ``then()``), and wait until the URL's
    tally (before the browser's tag) says so; returns that tally."""
    answer = page.get_by_label(translate("questions.your_answer", "en")).first
    answer.fill(value)
    answer.press("Enter")
    wait_idle(page)
    page.locator('[data-testid="stButton"] button', has_text=translate("questions.check", "en")).first.click()
    wait_idle(page)
    assert_no_exception(page)
    page.get_by_text(translate("questions.right", "en", answer=value)).first.wait_for()
    then()
    want = tally_text({lesson: {qid: "right"}})
    page.wait_for_function("(want) => (new URLSearchParams(location.search).get('qt') || '').split('.')[0] === want",
                           arg=want)  # the tally, then its browser's tag
    return want


def test_an_answer_counts_on_home_through_the_link(page, app, browser):
    goto(page, app, "stride")
    page.locator('[data-testid="stSidebar"] label', has_text=translate("questions.predict_toggle", "en")).first.click()
    wait_idle(page)
    want = _answer_right(page, "3", "stride", "stride.out_size")  # 5×5 grid, kernel 3, stride 2, padding 1
    [qt] = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["qt"]
    assert qt.startswith(f"{want}.")  # the letters, then this browser's tag
    tally = translate_n("questions.tally", 1, "en", right=1, wrong=0, skipped=0)

    same = page.context.new_page()  # another tab of the same browser (its cookie): the link brings the tally back
    try:
        goto(same, app, "", qt=qt)
        assert_no_exception(same)
        same.get_by_text(tally).first.wait_for()
    finally:
        same.close()
    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()  # someone else's browser
    try:
        goto(other, app, "", qt=qt)
        assert_no_exception(other)
        other.get_by_text(translate("questions.home_none", "en")).first.wait_for()  # Home, with no answers
        assert other.get_by_text(tally).count() == 0  # a copied link hands nothing over
    finally:
        other.context.close()


def test_kernels_question_in_its_fragment_shows_the_map_and_counts(page, app):
    """Kernels asks inside a fragment (server CPU per click): Check reruns that part alone, and still the output map
    appears, the verdict shows and the tally reaches the URL."""
    goto(page, app, "kernels")
    page.locator('[data-testid="stSidebar"] label', has_text=translate("questions.predict_toggle", "en")).first.click()
    wait_idle(page)
    out_map = page.locator(f'[aria-label="{translate("kernels.output_title", "en", h=510, w=510)}"]')
    assert out_map.count() == 0  # hidden until answered
    _answer_right(page, "510", "kernels", "kernels.out_width",  # the 512-wide photo under a 3-wide kernel
                  then=lambda: out_map.first.wait_for())
