"""Kernels page in a real browser: the step edge gives 180, clicking an output cell moves the pixel
inspector there, a bad custom kernel shows its message and keeps the maps."""
from __future__ import annotations

from tests.browser.conftest import assert_no_exception, goto, screenshot, wait_idle

CELL_XY = """([r, c]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!(gd.layout.clickmode || '').includes('select') || !gd.data.length || gd.data[0].type !== 'scatter') continue;
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(c), box.top + ya._offset + ya.l2p(r)];
  }
  return null;
}"""


def texts(page) -> str:
    return " ".join(page.locator('[data-testid="stMarkdown"], [data-testid="stCaptionContainer"]').all_inner_texts())


def test_step_edge_click_a_cell_to_inspect_it(page, app):
    goto(page, app, "kernels", kn_src="step_edge", kn_kernel="vertical_edge")
    assert_no_exception(page)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 7", timeout=20_000)
    assert "The map shows 180 at row 0, column 1" in texts(page)
    screenshot(page, "kernels-step-edge")
    # scroll the clickable neighbourhood map into view, then click the centre of cell (2, 3)
    page.evaluate("""() => { for (const gd of document.querySelectorAll('.js-plotly-plot'))
        if ((gd.layout.clickmode || '').includes('select')) gd.scrollIntoView({block: 'center'}); }""")
    page.wait_for_timeout(500)
    xy = page.evaluate(CELL_XY, [2, 3])
    assert xy is not None, "the clickable neighbourhood map is missing"
    page.mouse.click(*xy)
    page.wait_for_function("() => document.body.innerText.includes('The map shows 0 at row 2, column 3')",
                           timeout=20_000)
    wait_idle(page)
    assert_no_exception(page)
    values = page.locator('[data-testid="stNumberInput"] input').evaluate_all("els => els.map(e => e.value)")
    assert values[-2:] == ["2", "3"]  # the row and column inputs followed the click


def test_bad_custom_kernel_message_keeps_the_maps(page, app):
    goto(page, app, "kernels", kn_src="shapes", kn_kernel="custom", kn_custom="1,0,-1;2,0,-2;1,0,-1")
    assert_no_exception(page)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 7", timeout=20_000)
    before = page.locator('.js-plotly-plot').count()
    area = page.locator('[data-testid="stTextArea"] textarea').first
    area.fill("1,abc,1")
    area.press("Control+Enter")
    page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=20_000)
    wait_idle(page)
    assert "“abc” is not a number" in page.locator('[data-testid="stAlertContentError"]').inner_text()
    assert page.locator('.js-plotly-plot').count() == before
    assert_no_exception(page)


def test_editing_a_grid_cell_rewrites_the_kernel_text_and_link(page, app):
    goto(page, app, "kernels", kn_src="step_edge", kn_kernel="custom")
    assert_no_exception(page)
    editor = page.locator('[data-testid="stDataFrame"]').first
    editor.wait_for(state="visible", timeout=20_000)
    editor.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let the grid's canvas settle after scrolling
    box = editor.bounding_box()
    row_h = box["height"] / 4  # a header row and the kernel's three rows
    page.mouse.dblclick(box["x"] + box["width"] * 0.5, box["y"] + row_h * 2.5)  # row 1, column "1"
    cell = page.locator("input.gdg-input")  # the grid's cell editor
    cell.wait_for(state="visible", timeout=10_000)
    cell.fill("7")
    cell.press("Enter")
    page.wait_for_function("""() => { const t = document.querySelector('[data-testid="stTextArea"] textarea');
        return t && t.value === '1,0,-1;1,7,-1;1,0,-1'; }""", timeout=20_000)
    wait_idle(page)
    assert_no_exception(page)
    assert "kn_custom=1%2C0%2C-1%3B1%2C7%2C-1%3B1%2C0%2C-1" in page.url
