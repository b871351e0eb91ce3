"""How kernels learn in a real browser: press Play and watch the learned 3×3 kernel approach the target."""
from __future__ import annotations

import numpy as np

from tests.browser.conftest import assert_no_exception, goto, wait_idle

TARGET = np.array([[1.0, 0.0, -1.0]] * 3)  # the vertical edge kernel, the default target


def _learned(page):
    """The numbers in the "Learned kernel (step n)" heatmap and its step n, as the browser shows them."""
    got = page.evaluate("""() => { for (const p of document.querySelectorAll('.js-plotly-plot')) {
            const t = ((p.layout && p.layout.title && p.layout.title.text) || '').replace(/<[^>]+>/g, '');
            if (t.startsWith('Learned kernel')) return [t, p.calcdata[0][0].z.map(r => Array.from(r))]; }
        return null; }""")
    assert got is not None, "the learned-kernel chart is on the page"
    title, z = got
    return int(title.split("step ")[1].rstrip(")")), np.array(z, dtype=float)


def test_play_learns_the_vertical_edge_kernel(page, app):
    goto(page, app, "backprop", bp_speed="50")
    assert_no_exception(page)
    page.wait_for_selector("text=Learned kernel (step 0)", timeout=30_000)
    step0, w0 = _learned(page)
    assert step0 == 0
    start = np.abs(w0 - TARGET).max()
    assert start > 0.3, "a random start is far from the target"
    page.locator('[data-testid="stCheckbox"]').filter(has_text="Play").click()
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(p => {
            const t = ((p.layout && p.layout.title && p.layout.title.text) || '').replace(/<[^>]+>/g, '');
            return t.startsWith('Learned kernel') && !t.endsWith('(step 0)'); })""", timeout=30_000)
    _, w_mid = _learned(page)
    # it converges: the page says so, and play stops by itself
    page.wait_for_selector("text=every weight is within 0.001 of the hand-set kernel", timeout=120_000)
    wait_idle(page)
    assert_no_exception(page)
    step, w = _learned(page)
    assert step > 0
    assert np.abs(w - TARGET).max() < 0.01 < start  # the chart's numbers (2 decimals) show the target
    assert np.abs(w_mid - TARGET).max() <= start
