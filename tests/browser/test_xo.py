"""The X/O network in a real browser: the standard X votes X; clicking input cells flips them and
the grid, the URL and every stage follow (a second click flips a cell back); the O preset votes O."""
from __future__ import annotations

from tests.browser.conftest import assert_no_exception, goto, screenshot, wait_idle

CELL_XY = """([r, c]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const tr = (gd._fullData || [])[0];
    if (!(gd.layout.clickmode || '').includes('select') || !tr || tr.type !== 'scatter' || tr.x.length !== 81) continue;
    gd.scrollIntoView({block: 'center'});
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(c), box.top + ya._offset + ya.l2p(r)];
  }
  return null;
}"""
CELL_VALUE = """([r, c]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const tr = (gd._fullData || [])[0];
    if (!tr || tr.type !== 'scatter' || tr.x.length !== 81) continue;
    return tr.marker.color[r * 9 + c];
  }
  return null;
}"""


def verdict(page) -> str:
    return page.locator('[data-testid="stAlert"]').first.inner_text()


def click_cell(page, r: int, c: int) -> None:
    page.evaluate(CELL_XY, [r, c])  # scrolls the grid into view
    page.wait_for_timeout(400)
    page.mouse.click(*page.evaluate(CELL_XY, [r, c]))
    page.wait_for_function(f"() => ({CELL_VALUE})([{r}, {c}]) !== null", timeout=10_000)


def test_x_votes_x_and_clicks_flip_cells(page, app):
    goto(page, app, "xo")
    assert_no_exception(page)
    page.wait_for_function(f"() => ({CELL_VALUE})([0, 0]) === -1", timeout=20_000)
    assert "The network says X" in verdict(page)
    screenshot(page, "xo-standard-x", full_page=False)
    click_cell(page, 0, 0)
    page.wait_for_function(f"() => ({CELL_VALUE})([0, 0]) === 1", timeout=20_000)
    wait_idle(page)
    assert "xo_grid" in page.url  # the edited grid lives in the URL
    click_cell(page, 4, 4)  # the centre of the X: ink → background
    page.wait_for_function(f"() => ({CELL_VALUE})([4, 4]) === -1", timeout=20_000)
    wait_idle(page)
    assert page.evaluate(CELL_VALUE, [0, 0]) == 1  # the first flip is kept
    click_cell(page, 4, 4)  # the same cell again flips it back
    page.wait_for_function(f"() => ({CELL_VALUE})([4, 4]) === 1", timeout=20_000)
    wait_idle(page)
    assert_no_exception(page)


def test_o_preset_votes_o(page, app):
    goto(page, app, "xo", xo_preset="o")
    assert_no_exception(page)
    page.wait_for_function(f"() => ({CELL_VALUE})([1, 3]) === 1", timeout=20_000)
    assert "The network says O" in verdict(page)
