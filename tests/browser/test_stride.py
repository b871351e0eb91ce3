"""Stride & padding in a real browser: press play, watch the output fill in, pause; play to the end."""
from __future__ import annotations

from tests.browser.conftest import assert_no_exception, goto, screenshot, wait_idle

FILLED = """(title) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const hm = (gd.data || []).filter(t => t.type === 'heatmap');
    const last = hm[hm.length - 1];
    if (last && last.colorbar && last.colorbar.title && last.colorbar.title.text === title)
      return hm.reduce((n, t) => n + t.text.flat().filter(v => v !== '').length, 0);
  }
  return -1;
}"""


def filled(page, title: str = "output") -> int:
    return page.evaluate(FILLED, title)


def button(page, label: str):
    return page.locator('[data-testid="stButton"] button', has_text=label).first


def wait_filled(page, condition: str, timeout: float = 90_000) -> None:
    """Wait on the state (the number of filled output cells), with room for a busy machine: no fixed
    sleeps decide the outcome, only the condition does."""
    page.wait_for_function(f"() => {{ const n = ({FILLED})('output'); return {condition}; }}", timeout=timeout)


def test_play_fills_the_output_then_pause_stops_then_play_to_the_end(page, app):
    # one step a second: a Pause clicked once three cells are filled lands with six steps to spare,
    # even on a busy CI machine (at four steps a second it once landed after the last one)
    goto(page, app, "stride", sp_speed="1.0")
    assert_no_exception(page)
    wait_filled(page, "n === 1")
    assert "Step 1 of 9" in " ".join(page.locator('[data-testid="stMarkdown"]').all_inner_texts())
    button(page, "Play").click()
    wait_filled(page, "n >= 3")
    button(page, "Pause").click()
    page.wait_for_selector('[data-testid="stButton"] button:has-text("Play")', timeout=60_000)
    wait_idle(page, 60_000)
    stopped = filled(page)
    assert 3 <= stopped < 9
    page.wait_for_timeout(1200)  # paused: nothing moves any more
    assert filled(page) == stopped
    page.wait_for_function(f"() => [...document.querySelectorAll('[data-testid=stMarkdown]')]"
                           f".some(e => e.innerText.includes('Step {stopped} of 9'))", timeout=30_000)
    screenshot(page, "stride-paused", full_page=False)
    # play on: it stops by itself at the last cell, filled cells stay filled
    button(page, "Play").click()
    wait_filled(page, "n === 9")
    page.wait_for_selector('[data-testid="stButton"] button:has-text("Play")', timeout=60_000)
    wait_idle(page, 60_000)  # the end's app rerun has finished: the Back button is the final one
    assert filled(page) == 9
    button(page, "Back").click()
    wait_filled(page, "n === 8")
    assert_no_exception(page)


CELL_XY = """([x, y]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!gd.data || !gd.data[0] || gd.data[0].type !== 'scatter') continue;
    gd.scrollIntoView();
    const fl = gd._fullLayout, r = gd.getBoundingClientRect();
    return [r.left + fl._size.l + fl.xaxis.d2p(x), r.top + fl._size.t + fl.yaxis.d2p(y)];
  }
  return null;
}"""


def test_clicking_an_output_cell_shows_its_receptive_field(page, app):
    goto(page, app, "stride", sp_view="receptive")
    assert_no_exception(page)
    page.wait_for_function(f"() => ({CELL_XY})([3, 1]) !== null", timeout=20_000)
    page.evaluate(CELL_XY, [3, 1])  # scroll it into view first
    page.wait_for_timeout(300)
    page.mouse.click(*page.evaluate(CELL_XY, [3, 1]))
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(gd =>
        gd.layout && gd.layout.title && String(gd.layout.title.text).includes('Output cell (1, 3)'))""",
                           timeout=20_000)
    assert "sp_rr=1" in page.url and "sp_rcol=3" in page.url
    assert_no_exception(page)
