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


def test_play_fills_the_output_then_pause_stops_then_play_to_the_end(page, app):
    goto(page, app, "stride", sp_speed="4.0")
    assert_no_exception(page)
    page.wait_for_function(f"() => ({FILLED})('output') === 1", timeout=20_000)
    assert "Step 1 of 9" in " ".join(page.locator('[data-testid="stMarkdown"]').all_inner_texts())
    button(page, "Play").click()
    page.wait_for_function(f"() => ({FILLED})('output') >= 3", timeout=20_000)
    button(page, "Pause").click()
    page.wait_for_selector('[data-testid="stButton"] button:has-text("Play")', timeout=10_000)
    wait_idle(page)
    stopped = filled(page)
    assert 3 <= stopped < 9
    page.wait_for_timeout(1200)  # paused: nothing moves any more
    assert filled(page) == stopped
    assert f"Step {stopped} of 9" in " ".join(page.locator('[data-testid="stMarkdown"]').all_inner_texts())
    screenshot(page, "stride-paused", full_page=False)
    # play on: it stops by itself at the last cell, filled cells stay filled
    button(page, "Play").click()
    page.wait_for_function(f"() => ({FILLED})('output') === 9", timeout=30_000)
    page.wait_for_selector('[data-testid="stButton"] button:has-text("Play")', timeout=10_000)
    wait_idle(page)
    assert filled(page) == 9
    button(page, "Back").click()
    page.wait_for_function(f"() => ({FILLED})('output') === 8", timeout=20_000)
    assert_no_exception(page)


def test_bad_kernel_keeps_the_view_in_chinese(page, app):
    goto(page, app, "stride", lang="zh", sp_kernel="1 x")
    assert_no_exception(page)
    page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=20_000)
    assert "不是数字" in page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    # no good view yet (the link's kernel is bad from the start): the default kernel's view is shown
    page.wait_for_function(f"() => ({FILLED})('输出') === 1", timeout=20_000)
