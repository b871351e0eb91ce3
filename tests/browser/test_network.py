"""Inside the network in a real browser: select a channel by clicking it in the overview and a position by clicking
its map, then the same by keyboard only (and the temperature, and the Kernels link, which opens that input channel's
map and kernel with the unit's partial sum); the unit's numbers on the page are the network's own (explainer.learning.network
in this process, on the same test digit). Screenshots: en and zh at 1280 px, presenter mode at 1920 px, a phone."""
from __future__ import annotations

import re

import urllib.parse

from tests.browser.conftest import assert_no_exception, screenshot, wait_idle

TILE_XY = """(label) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const tr = (gd.data || []).find(t => t.type === 'scatter' && Array.isArray(t.text));
    if (!tr) continue;
    const i = tr.text.findIndex(s => s === label);
    if (i < 0) continue;
    gd.scrollIntoView({block: 'center'});
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const at = () => { const box = gd.getBoundingClientRect();
                       return [box.left + xa._offset + xa.l2p(tr.x[i]), box.top + ya._offset + ya.l2p(tr.y[i])]; };
    const main = document.querySelector('[data-testid="stMain"]');  // a chart taller than the screen (a phone's
    if (main) main.scrollBy(0, at()[1] - innerHeight / 2);           // overview): the point itself in the middle
    return at();
  }
  return null;
}"""
CELL_XY = """([r, c]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const tr = gd.data && gd.data[0];
    if (!tr || tr.type !== 'scatter' || !tr.marker || !tr.marker.colorbar || Array.isArray(tr.text)) continue;
    gd.scrollIntoView({block: 'center'});
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(c), box.top + ya._offset + ya.l2p(r)];
  }
  return null;
}"""

# a phone's browser (Playwright's "Pixel 7", 412 px wide): the page lays the overview out down the page for it
PHONE_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
               "Mobile Safari/537.36")
# the smallest horizontal gap (px) between two numbers of one row of any numbered grid (a unit's window, kernel,
# products): 14 px "−0.358"s in a 5×5 grid at 1280 px were 0.7 px apart and read as one long number
CELL_GAPS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const boxes = Array.from(gd.querySelectorAll('.heatmaplayer text')).map(e => e.getBoundingClientRect())
    .filter(b => b.width > 0);
  let gap = Infinity;
  for (const a of boxes) for (const b of boxes)
    if (a !== b && Math.abs(a.top - b.top) < 2 && b.left >= a.left) gap = Math.min(gap, b.left - a.right);
  return [boxes.length, gap];
}).filter(([n]) => n >= 9)"""
OVERVIEW_GEOMETRY = """() => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const tr = (gd.data || []).find(t => t.type === 'scatter' && Array.isArray(t.text));
    if (!tr) continue;
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return {width: box.width, height: box.height, step: xa.l2p(tr.x[2]) - xa.l2p(tr.x[1]),
            first: ya._offset + ya.l2p(tr.y[0])};
  }
  return null;
}"""


def goto(page, app: str, path: str, **params) -> None:
    """As conftest's, with room for a cold server's first run (MNIST and the reference model load once)."""
    page.goto(f"{app}/{path}" + (("?" + urllib.parse.urlencode(params)) if params else ""))
    wait_idle(page, timeout=180_000)


def wait_inputs(page, wanted: dict[str, str]) -> None:
    """Wait until the number inputs labelled so hold these values (the page has rerun with the selection)."""
    page.wait_for_function("""(wanted) => { const got = {};
        document.querySelectorAll('[data-testid="stNumberInput"]').forEach(el => {
            const l = el.querySelector('label'), i = el.querySelector('input');
            if (l && i) got[l.innerText.trim()] = i.value; });
        return Object.entries(wanted).every(([k, v]) => got[k] === v); }""", arg=wanted, timeout=60_000)
    wait_idle(page, timeout=60_000)


def texts(page) -> str:
    return " ".join(page.locator('[data-testid="stMarkdown"], [data-testid="stCaptionContainer"]').all_inner_texts())


def own_value(layer: int, channel: int, row: int, col: int, digit: int = 0) -> float:
    from explainer.learning import network as N
    from explainer.data.mnist import load_mnist

    x = load_mnist()[2][digit] / 255.0
    return float(N.trace(N.reference_model(), x)[layer].output[channel, row, col])


def own_partial(layer: int, channel: int, row: int, col: int, k: int, digit: int = 0) -> float:
    from explainer.learning import network as N
    from explainer.data.mnist import load_mnist

    x = load_mnist()[2][digit].astype("float32") / 255.0
    return float(N.explain_unit(N.reference_model(), x, layer, channel, row, col).partial_sums[k])


def shown_value(page) -> float:
    m = re.search(r"output at this place: (\S+) \(recomputed here: (\S+);", texts(page))
    assert m, "the unit's numbers are missing"
    return float(m.group(1).replace("−", "-"))


def number_inputs(page) -> dict[str, str]:
    out = {}
    for el in page.locator('[data-testid="stNumberInput"]').all():
        out[el.locator("label").inner_text().strip()] = el.locator("input").input_value()
    return out


def test_select_a_unit_by_click_and_by_keyboard(page, app):
    goto(page, app, "network")
    assert_no_exception(page)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5", timeout=180_000)
    screenshot(page, "network-en-1280")
    gaps = page.evaluate(CELL_GAPS)  # conv 1's 5×5 window, kernel and products
    assert len(gaps) == 3 and min(g for _, g in gaps) >= 4, gaps
    # click: channel 2 of conv 2 in the overview
    xy = page.evaluate(TILE_XY, "conv 2<br>32×14×14 · channel 2")
    assert xy is not None, "the overview's channel markers are missing"
    page.mouse.click(*xy)
    wait_inputs(page, {"Channel": "2"})
    assert "nw_layer=4" in page.url and "nw_channel=2" in page.url  # conv 2 (entry 4), channel 2
    # click: position (5, 9) on the channel's map
    xy = page.evaluate(CELL_XY, [5, 9])
    assert xy is not None, "the channel's clickable map is missing"
    page.mouse.click(*xy)
    wait_inputs(page, {"Channel": "2", "Row": "5", "Column": "9"})
    assert_no_exception(page)
    assert abs(shown_value(page) - own_value(4, 2, 5, 9)) <= 1e-5 * max(1, abs(own_value(4, 2, 5, 9)))
    # keyboard only: the channel, the row and the column typed into their inputs
    for label, value in (("Channel", "7"), ("Row", "3"), ("Column", "11")):
        box = page.locator('[data-testid="stNumberInput"]').filter(has_text=label).locator("input").first
        box.focus()
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
        page.keyboard.press("Enter")
        wait_idle(page, timeout=60_000)
    wait_inputs(page, {"Channel": "7", "Row": "3", "Column": "11"})
    assert abs(shown_value(page) - own_value(4, 7, 3, 11)) <= 1e-5 * max(1, abs(own_value(4, 7, 3, 11)))
    # keyboard: the layer picker (a combobox) — type a layer's name and Enter
    combo = page.get_by_role("combobox", name=re.compile("^Layer"))
    combo.focus()
    page.keyboard.type("conv 3")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.search.includes('nw_layer=7')", timeout=60_000)
    wait_idle(page, timeout=60_000)
    assert_no_exception(page)
    vals = number_inputs(page)
    r, c = int(vals["Row"]), int(vals["Column"])
    assert abs(shown_value(page) - own_value(7, 7, r, c)) <= 1e-5 * max(1, abs(own_value(7, 7, r, c)))
    assert "nw_layer=7" in page.url and "nw_channel=7" in page.url
    # keyboard: softmax's temperature one step up (the slider's arrow key)
    page.locator('.st-key-nw_temp input[type="range"]').first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('nw_temp=1.1')", timeout=60_000)
    wait_idle(page, timeout=60_000)
    # keyboard: input channel 5, then Enter on "Open this kernel in the Kernels lesson": Kernels shows that channel's
    # map with that kernel at the unit's window, and its sum is this unit's partial sum for channel 5
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="Input channel").locator("input").first
    box.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    wait_inputs(page, {"Input channel": "5"})
    page.locator(".st-key-nw_open_kernel button").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.pathname.endsWith('/kernels') && location.search.includes('kn_map=')",
                           timeout=60_000)
    wait_idle(page, timeout=60_000)
    assert_no_exception(page)
    partial = own_partial(7, 7, r, c, 5)
    m = re.search(r"Sum of the 9 products = (\S+?);", texts(page))
    assert m, "the Kernels inspector's sum is missing"
    assert abs(float(m.group(1).replace("−", "-")) - partial) <= 5e-4 * max(1, abs(partial))
    screenshot(page, "network-kernels-link-1280")


def test_screenshots_zh_presenter_and_phone(page, app, browser):
    goto(page, app, "network", lang="zh", nw_layer="4", nw_channel="3", nw_row="6", nw_col="6")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5", timeout=180_000)
    assert_no_exception(page)
    assert "网络内部" in page.locator("h1").first.inner_text()
    screenshot(page, "network-zh-1280")
    wide = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        p2 = wide.new_page()
        goto(p2, app, "network", presenter="1")
        p2.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5", timeout=180_000)
        assert_no_exception(p2)
        sizes = p2.evaluate("""() => Array.from(document.querySelectorAll('label p, label')).map(
            e => parseFloat(getComputedStyle(e).fontSize)).filter(s => s > 0)""")
        assert sizes and min(sizes) >= 16, sizes
        screenshot(p2, "network-presenter-1920")
    finally:
        wide.close()
    phone = browser.new_context(viewport={"width": 412, "height": 915}, is_mobile=True, has_touch=True,
                                device_scale_factor=2, user_agent=PHONE_AGENT)
    try:
        p3 = phone.new_page()
        goto(p3, app, "network")
        p3.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5", timeout=180_000)
        assert_no_exception(p3)
        # columns stack: the row and column inputs sit one above the other, each nearly the page's width
        boxes = [b.bounding_box() for b in p3.locator('[data-testid="stNumberInput"]').all()]
        assert boxes and all(b["width"] > 300 for b in boxes if b)
        assert p3.evaluate("() => document.documentElement.scrollWidth") <= 412 + 1
        # the overview runs down the page: maps ≥ 36 px wide, the first layer's right under the title (no band)
        ov = p3.evaluate(OVERVIEW_GEOMETRY)
        assert ov is not None and ov["height"] > 2 * ov["width"], ov
        assert ov["step"] >= 36 and ov["first"] <= 110, ov
        screenshot(p3, "network-phone-412")
        # a tap on channel 5 of conv 1 selects it (the page's TAP_SELECT: Plotly selects on a click, not on a tap)
        xy = p3.evaluate(TILE_XY, "conv 1<br>16×28×28 · channel 5")
        assert xy is not None
        p3.touchscreen.tap(*xy)
        wait_inputs(p3, {"Channel": "5"})
        assert "nw_channel=5" in p3.url
        # then one typed into its box
        box = p3.locator('[data-testid="stNumberInput"]').filter(has_text="Channel").locator("input").first
        box.fill("3")
        box.press("Enter")
        wait_inputs(p3, {"Channel": "3"})
        assert "nw_channel=3" in p3.url
        assert_no_exception(p3)
    finally:
        phone.close()
