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
    goto(page, app, "backprop", bp_view="learn", bp_speed="50")
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


CELL_XY = """([title, r, c]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const t = ((gd.layout && gd.layout.title && gd.layout.title.text) || '').replace(/<[^>]+>/g, '');
    if (!t.startsWith(title)) continue;
    gd.scrollIntoView({block: 'center'});
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(c), box.top + ya._offset + ya.l2p(r)];
  }
  return null;
}"""

SUMS = """(lhs) => [...document.querySelectorAll('.katex-mathml annotation')].map(a => a.textContent)
    .filter(s => s.includes(lhs))"""

TITLE_COVERED = """(title) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const t = ((gd.layout && gd.layout.title && gd.layout.title.text) || '').replace(/<[^>]+>/g, '');
    if (!t.startsWith(title)) continue;
    const bar = gd.querySelector('.modebar');
    const title_el = gd.querySelector('.gtitle');
    if (!bar || !title_el || getComputedStyle(bar).display === 'none') return false;
    const a = bar.getBoundingClientRect(), b = title_el.getBoundingClientRect();
    return a.width > 0 && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }
  return null;
}"""


def _sum_terms(latex: str) -> tuple[float, float]:
    """The written-out sum's products ``(a)\\cdot(b)`` added up, and the total after the last ``=``."""
    import re

    number = lambda s: float(s.replace("−", "-"))  # noqa: E731
    products = re.findall(r"\(([-−\d.e]+)\)\\cdot\(([-−\d.e]+)\)", latex)
    total = number(latex.rsplit("&=", 1)[1].split("\\end")[0].strip())
    return sum(number(a) * number(b) for a, b in products), total


def test_clicking_a_gradient_cell_writes_its_sum_out(page, app):
    """Issue 21 item 9: a click on a weight or a pixel of the gradient maps selects it (the sum below was stuck
    at (0, 0); only typing row and column worked), and the chart toolbar no longer covers the map's title."""
    from explainer.learning import backprop as bp
    from explainer.maths.kernels import kernel
    from ui.tables.backprop import TABLE

    ex = bp.hand_example(bp.hand_input(TABLE["bp_input"].default),
                         np.asarray(kernel(TABLE["bp_kernel"].default).weights, dtype=float),
                         np.asarray(kernel(TABLE["bp_target"].default).weights, dtype=float), 0.0, 1, 0)
    page.goto(f"{app}/backprop")
    wait_idle(page, 120_000)  # a fresh server's first lesson page on a busy machine
    assert_no_exception(page)
    for title, lhs, (r, c), grad in (("∂L/∂W", "W_{", (1, 2), ex.grad_w), ("∂L/∂X", "X_{", (2, 3), ex.grad_x)):
        page.wait_for_function("(t) => [...document.querySelectorAll('.js-plotly-plot')].some(p => "
                               "((p.layout && p.layout.title || {}).text || '').replace(/<[^>]+>/g, '').startsWith(t))",
                               arg=title, timeout=180_000)
        covered = page.evaluate(TITLE_COVERED, title)  # asserted after the click: both defects of the item show
        wait_idle(page, 120_000)
        page.wait_for_timeout(1000)  # scrolled into view, hover layer ready
        assert page.evaluate(CELL_XY, [title, r, c]) is not None, f"the {title} map is on the page"
        hovered = ""
        for _ in range(20):  # the page may still move (a rerun's redraw above it): aim until the hover names the cell
            page.wait_for_timeout(1500)
            xy = page.evaluate(CELL_XY, [title, r, c])
            page.mouse.move(xy[0] + 3, xy[1] + 3)
            page.mouse.move(*xy)  # Plotly takes the click's point from the hover that comes first
            page.wait_for_timeout(500)
            hovered = " ".join(page.locator(".hoverlayer .hovertext").all_text_contents())
            if f"row {r}, column {c}" in hovered:
                break
        assert f"row {r}, column {c}" in hovered, (title, hovered)
        page.mouse.click(*xy)
        want = f"{lhs}{r},{c}}}"
        try:
            page.wait_for_function(f"() => ({SUMS})({want!r}).length > 0", timeout=120_000)
        except Exception:  # noqa: BLE001 — say what the page shows instead
            inputs = page.locator('[data-testid="stNumberInput"] input').evaluate_all("els => els.map(e => e.value)")
            raise AssertionError(f"{title}: no sum for {want} after the click; inputs {inputs}, sums "
                                 f"{[a[:60] for a in page.evaluate(SUMS, 'aligned')]}") from None
        wait_idle(page, 120_000)
        assert_no_exception(page)
        (latex,) = page.evaluate(SUMS, want)
        products, total = _sum_terms(latex)
        assert abs(total - grad[r, c]) < 1e-3 * max(1.0, abs(grad[r, c])), (latex, grad[r, c])
        assert abs(products - total) < 1e-2 * max(1.0, abs(total)), latex
        assert covered is False, f"the toolbar covers the title of {title}"
