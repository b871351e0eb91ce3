"""Train page in a real browser: start training on the engine (the server's own local Dask cluster), see the
curve grow; a second learner's training waits in the queue and says how many are ahead; stop; draw a digit."""
from __future__ import annotations

from tests.browser.conftest import assert_no_exception, goto, screenshot, wait_idle


def _points(page) -> int:
    """Number of drawn points in the live accuracy chart."""
    return page.evaluate("""() => { let n = 0;
        document.querySelectorAll('.js-plotly-plot').forEach(p => (p.data || []).forEach(t => {
            if (t.type === 'scatter' && t.x && t.mode === 'lines+markers') n += t.x.length; }));
        return n; }""")


def test_train_grow_stop_and_draw(page, app, browser):
    goto(page, app, "train", tr_size="10000", tr_epochs="2")
    assert_no_exception(page)
    page.get_by_role("button", name="▶ Start training").click()
    page.wait_for_selector('[data-testid="stProgress"]', timeout=120_000)  # the engine starts on first use
    page.wait_for_function("() => { let n = 0; document.querySelectorAll('.js-plotly-plot').forEach(p => (p.data||[])"
                           ".forEach(t => { if (t.mode === 'lines+markers' && t.x) n += t.x.length; })); return n >= 2; }",
                           timeout=90_000)
    first = _points(page)
    page.wait_for_function(f"() => {{ let n = 0; document.querySelectorAll('.js-plotly-plot').forEach(p => (p.data||[])"
                           f".forEach(t => {{ if (t.mode === 'lines+markers' && t.x) n += t.x.length; }})); "
                           f"return n > {first}; }}", timeout=90_000)
    assert _points(page) > first, "the curve grows while training runs"
    # another learner (another browser session) presses Start now: one slot, so it waits in the queue
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page2 = other.new_page()
        goto(page2, app, "train", tr_size="500")
        page2.get_by_role("button", name="▶ Start training").click()
        page2.wait_for_selector("text=1 ahead of you", timeout=90_000)
        page2.get_by_role("button", name="■ Stop (keep what was learned)").click()  # leaves the queue
        wait_idle(page2)
        assert_no_exception(page2)
    finally:
        other.close()
    page.get_by_role("button", name="■ Stop (keep what was learned)").click()
    page.wait_for_selector("text=Runs and curves", timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    assert page.get_by_text("✓").count() >= 1  # the run is marked as stopped early
    # draw a "1" on the canvas
    page.get_by_role("tab", name="Draw a digit").click()
    canvas = page.locator("canvas.cx-canvas")
    canvas.wait_for(timeout=20_000)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    for y in range(40, 250, 15):
        page.mouse.move(box["x"] + 140, box["y"] + y)
    page.mouse.up()
    page.wait_for_selector("text=The model reads", timeout=30_000)
    assert_no_exception(page)
    screenshot(page, "train-trained")
