"""Pooling in a real browser: step, play, pause; the maximum of each window is marked."""
from __future__ import annotations

from tests.browser.conftest import assert_no_exception, goto, screenshot, wait_idle
from explainer.figures.style import PICK
from tests.browser.test_stride import FILLED, button, filled


def test_step_play_and_pause(page, app):
    goto(page, app, "pooling", pl_speed="1.0")  # a Pause after three cells lands well before the end
    assert_no_exception(page)
    page.wait_for_function(f"() => ({FILLED})('output') === 1", timeout=20_000)
    button(page, "Play").click()
    page.wait_for_function(f"() => ({FILLED})('output') >= 3", timeout=20_000)
    button(page, "Pause").click()
    wait_idle(page)
    stopped = filled(page)
    page.wait_for_timeout(1000)
    assert filled(page) == stopped >= 3
    # the window figure marks the winning cell with the pick outline (style.PICK)
    marked = page.evaluate("""(pick) => [...document.querySelectorAll('.js-plotly-plot')].some(gd =>
        (gd.layout.shapes || []).some(s => s.line && s.line.color === pick))""", PICK)
    assert marked
    assert_no_exception(page)
    screenshot(page, "pooling-paused", full_page=False)
