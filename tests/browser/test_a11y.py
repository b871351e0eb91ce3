"""Accessibility in a real browser (WCAG 2.2 AA): axe-core on every page in both languages, every chart named,
<html lang> and the title per page, a keyboard-only walk of Kernels and Stride, a phone with touch on Train.

axe-core is an npm package, installed beside the checkout (git-ignored):
    npm install --prefix .cache/npm axe-core@4.14.1
"""
from __future__ import annotations

from pathlib import Path

import pytest

from explainer.i18n import LANGUAGES
from tests.browser.conftest import ROOT, assert_no_exception, goto, wait_idle
from ui.nav import LESSONS

AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PAGES = [url for path, _, _, url in LESSONS if (ROOT / path).exists()]
HTML_LANG = {"en": "en", "zh": "zh-Hans"}


@pytest.fixture(scope="session")
def axe_source() -> str:
    assert AXE.is_file(), f"axe-core is missing: run `npm install --prefix .cache/npm axe-core@4.14.1` ({AXE})"
    return AXE.read_text()


def _settled(page) -> None:
    """Wait until Streamlit is idle and every chart has replaced its loading skeleton."""
    wait_idle(page)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=60_000)
    page.wait_for_timeout(500)
    wait_idle(page)


def _axe(page, source: str) -> list[dict]:
    """axe's WCAG 2.x A/AA violations. Disabled widgets are left out: WCAG 1.4.3 exempts the text of an inactive
    control from contrast, but axe can't tell (Streamlit's label sits outside the disabled input)."""
    page.add_script_tag(content=source)
    return page.evaluate("""async (tags) => {
        const exclude = [...document.querySelectorAll('[data-testid="stElementContainer"]')]
            .filter(c => c.querySelector('input:disabled, button:disabled, [aria-disabled="true"]'))
            .map(c => [...c.classList].find(k => k.startsWith('st-key-'))).filter(k => k).map(k => ['.' + k]);
        const r = await axe.run({include: [['body']], exclude}, {runOnly: {type: 'tag', values: tags}});
        return r.violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' ') + ': ' +
                                        (n.failureSummary || '').split('\\n').slice(1, 2).join(''))})); }""", AXE_TAGS)


NO_CHART = {"poll"}  # the class poll opens on its code box; its chart is the projector's (tests/browser/test_poll.py)


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("path", PAGES)
def test_page_passes_axe_and_names_every_chart(page, app, axe_source, path, lang):
    goto(page, app, path, lang=lang)
    _settled(page)
    assert_no_exception(page)
    violations = _axe(page, axe_source)
    assert violations == [], "\n".join(f"{v['id']}: {n}" for v in violations for n in v["nodes"][:5])
    charts = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].map(e =>
        ({role: e.getAttribute('role'), name: (e.getAttribute('aria-label') || '').trim(),
          shown: e.getBoundingClientRect().width > 0}))""")
    assert charts or path in NO_CHART, "every lesson shows at least one chart"
    assert all(c["role"] == "figure" and c["name"] for c in charts), charts
    # what a screen reader gets: each chart on screen (not in a closed tab) is a figure with that name
    for name in {c["name"] for c in charts if c["shown"]}:
        assert page.get_by_role("figure", name=name, exact=True).count() >= 1, name
    assert page.evaluate("() => document.documentElement.lang") == HTML_LANG[lang]


def test_every_page_has_its_own_title(page, app):
    titles = {}
    for lang in LANGUAGES:
        for path in PAGES:
            goto(page, app, path, lang=lang)
            page.wait_for_function("(l) => document.documentElement.lang === l", arg=HTML_LANG[lang], timeout=20_000)
            titles[(lang, path)] = page.title()
    for lang in LANGUAGES:
        names = [titles[(lang, p)] for p in PAGES]
        assert len(set(names)) == len(names), names
    assert all(titles[("en", p)] != titles[("zh", p)] for p in PAGES)


def _press(page, selector: str, key: str, then_shows: str, idle: bool = True) -> None:
    """Focus the control at ``selector``, press ``key`` and wait until the page says ``then_shows``."""
    page.locator(selector).first.focus()
    page.keyboard.press(key)
    page.wait_for_function(f"() => document.body.innerText.includes({then_shows!r})", timeout=20_000)
    if idle:
        wait_idle(page)


def _markdown(page) -> str:
    return " ".join(page.locator('[data-testid="stMarkdown"]').all_inner_texts())


def test_keyboard_only_kernels_and_stride(page, app):
    """Select a kernel, step forward and back, jump to the end — only key presses, no mouse."""
    goto(page, app, "kernels")
    _settled(page)
    box = page.locator('.st-key-kn_kernel input')
    box.focus()
    page.keyboard.press("ArrowDown")  # open the list
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_function("() => !location.search.includes('kn_kernel=vertical_edge') && "
                           "location.search.includes('kn_kernel=')", timeout=20_000)
    wait_idle(page)
    assert_no_exception(page)

    goto(page, app, "stride")
    _settled(page)
    assert "Step 1 of 9" in _markdown(page)
    _press(page, ".st-key-sp_next button", "Enter", "Step 2 of 9")
    _press(page, ".st-key-sp_next button", "Space", "Step 3 of 9")
    _press(page, ".st-key-sp_prev button", "Enter", "Step 2 of 9")
    _press(page, '.st-key-sp_pos input[type="range"]', "End", "Step 9 of 9")
    # Enter on "First" goes back to the start
    _press(page, ".st-key-sp_first button", "Enter", "Step 1 of 9", idle=False)
    assert_no_exception(page)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 412, "height": 915}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def test_phone_draws_right_after_loading_weights_and_sees_the_prediction(phone, app, tmp_path):
    from explainer.learning.models import build_model
    from explainer.learning.train import TrainConfig, save_checkpoint

    ckpt = tmp_path / "fast-mnist.pt"
    ckpt.write_bytes(save_checkpoint(build_model("fast"), TrainConfig()))
    page = phone
    goto(page, app, "train")
    assert_no_exception(page)
    page.locator('.st-key-tr_load input[type="file"]').set_input_files(str(ckpt))
    # the weights are scored on the engine's worker: the message gives their accuracy when that is back
    page.wait_for_selector('[data-testid="stAlertContentSuccess"]:has-text("%")', timeout=120_000)
    wait_idle(page)
    page.get_by_role("tab", name="Draw a digit").tap()
    canvas = page.locator("canvas.cx-canvas")
    canvas.wait_for(timeout=20_000)
    assert canvas.get_attribute("aria-label"), "the canvas has an accessible name"
    canvas.evaluate("c => c.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    box = canvas.bounding_box()
    cdp = page.context.new_cdp_session(page)
    x = box["x"] + box["width"] / 2
    points = [(x, box["y"] + y) for y in range(40, 250, 15)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for px, py in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": px, "y": py}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    # the very first stroke counts: the prediction appears, and it is in view without scrolling
    result = page.get_by_text("The model reads")
    result.wait_for(timeout=30_000)
    wait_idle(page)
    r = result.bounding_box()
    assert r is not None and 0 <= r["y"] and r["y"] + r["height"] <= 915, r
    page.screenshot(path=str(Path(tmp_path) / "phone-train.png"))
    assert_no_exception(page)


def test_presenter_mode_numbers_readable_at_1920(browser, app):
    """Issue 13.3: in presenter mode at 1920 px every chart's cell numbers, ticks and titles are ≥ 16 px."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        for path in ("xo", "kernels"):
            goto(page, app, path, presenter="1")
            _settled(page)
            sizes = page.evaluate("""() => {
                const px = sel => [...document.querySelectorAll(sel)].filter(e => e.getBoundingClientRect().height > 0)
                                    .map(e => parseFloat(getComputedStyle(e).fontSize));
                return {cells: px('.js-plotly-plot g.textpoint text'),
                        other: px('.js-plotly-plot .xtick text, .js-plotly-plot .ytick text, .js-plotly-plot .gtitle')}; }""")
            assert len(sizes["cells"]) > 50 and min(sizes["cells"]) >= 16, (path, min(sizes["cells"], default=None))
            assert min(sizes["other"]) >= 16, (path, min(sizes["other"]))
            widths = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                .map(e => e.getBoundingClientRect().width).filter(w => w > 0)""")
            assert min(widths) > 300, widths  # wide layout: no ~130 px maps (the narrowest, X/O's 3×3 products, ~330 px)
    finally:
        context.close()
