"""Presenter mode at 1920 px: every text a learner reads on every lesson is at least 16 px (issue 21 item 15).

What is measured: every visible element that holds text of its own (a text node that is not only spaces) in the
page's HTML — markdown, captions, widget labels and values, help, buttons, tabs, metrics, alerts, the sidebar.
What is left out, and why: Plotly's SVG text (cell numbers, ticks, titles), which ``explainer.figures.style.for_presenter``
sizes and ``tests/browser/test_a11y.py::test_presenter_mode_numbers_readable_at_1920`` measures; KaTeX formulas are
measured (they scale with their paragraph); Streamlit's data grids (``st.dataframe``) draw on a canvas, no DOM text to
measure; tooltips appear only on hover.
"""
from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_exception, wait_idle
from tests.pagewalk import pages

MIN_PX = 16.0
SMALL_TEXTS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.nodeValue.replace(/[\s\u200b-\u200d\u2060\ufeff]/g, '')) continue;  // KaTeX's struts: zero-width spaces
    const el = n.parentElement;
    if (!el || el.closest('.js-plotly-plot, svg, script, style, noscript, [data-testid="stTooltipContent"]')) continue;
    const box = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    if (box.width === 0 || box.height === 0 || cs.visibility === 'hidden' || cs.display === 'none') continue;
    if (el.closest('[aria-hidden="true"]') && !el.closest('.katex')) continue;  // KaTeX's visible copy is aria-hidden
    const px = parseFloat(cs.fontSize);
    if (px < %s) out.push({px, text: n.nodeValue.trim().slice(0, 40), tag: el.tagName,
                            testid: (el.closest('[data-testid]') || {getAttribute: () => ''}).getAttribute('data-testid')});
  }
  return out;
}""" % MIN_PX


def _open(page, app: str, path: str, **params) -> None:
    import urllib.parse

    page.goto(f"{app}/{path}?{urllib.parse.urlencode(params)}")
    wait_idle(page, timeout=120_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=120_000)
    wait_idle(page, timeout=120_000)


def _lessons() -> list[str]:
    return [p for p in pages() if p != "streamlit_app"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_presenter_mode_every_text_is_at_least_16px_at_1920(browser, app, lang):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(60_000)
    small = {}
    try:
        for path in _lessons():
            _open(page, app, path, presenter="1", lang=lang)
            assert_no_exception(page)
            found = page.evaluate(SMALL_TEXTS)
            if found:
                small[path] = found[:8]
    finally:
        context.close()
    assert small == {}, small


def test_the_measure_finds_small_text(browser, app):
    """Without presenter mode the app's captions are 14 px: the measure must see them (it can fail)."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1)
    page = context.new_page()
    try:
        _open(page, app, "stride")
        found = page.evaluate(SMALL_TEXTS)
        assert any(f["testid"] == "stCaptionContainer" or f["tag"] == "SMALL" for f in found), found[:5]
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_file_uploader_speaks_the_learners_language(page, app, lang):
    """Issue 21 item 16: Streamlit's uploader said "Upload" and "20MB per file" on the Chinese pages. The words now come
    from the catalogue, the limit from explainer.limits."""
    from explainer import limits
    from explainer.i18n import translate

    _open(page, app, "kernels", kn_src="upload", lang=lang)
    zone = page.locator('[data-testid="stFileUploaderDropzone"]').first
    zone.wait_for(timeout=60_000)
    shown = page.evaluate("""() => {
        const z = document.querySelector('[data-testid="stFileUploaderDropzone"]');
        const md = z.querySelector('button [data-testid="stMarkdownContainer"]');
        const ins = z.querySelector('[data-testid="stFileUploaderDropzoneInstructions"] > div');
        const after = e => getComputedStyle(e, '::after').content;
        return {button: after(md), limit: after(ins), text: z.innerText}; }""")
    button = translate("common.uploader_button", lang)
    limit = translate("common.uploader_limit", lang, mb=limits.mb(limits.UPLOAD_BYTES))
    assert shown["button"] == f'"{button}"' and shown["limit"] == f'"{limit}"', shown
    assert "Upload" not in shown["text"] and "per file" not in shown["text"], shown  # the English is hidden
    if lang == "zh":
        assert "上传" in button and "20" in limit
    names = page.get_by_role("button", name=button)
    assert names.count() >= 1  # the generated words are the button's accessible name
