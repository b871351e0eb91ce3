"""Optimizers page in a real browser: the race animates when Play is pressed; a preset shows divergence."""
from __future__ import annotations

from tests.browser.conftest import assert_no_exception, goto, wait_idle


def _head_x(page) -> float:
    """x of the first optimizer's moving head in the contour map."""
    return page.evaluate("""() => { const p = [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => (g.data || []).some(t => t.type === 'contour'));
        const heads = p.data.filter(t => t.type === 'scatter' && t.mode === 'markers' && t.x && t.x.length === 1
                                     && t.showlegend === false);
        return heads.length ? heads[0].x[0] : null; }""")


def test_play_animates_and_preset_diverges(page, app):
    goto(page, app, "optimizers")
    assert_no_exception(page)
    page.wait_for_selector(".js-plotly-plot .contour", timeout=30_000)
    end = _head_x(page)
    page.locator(".updatemenu-button").first.click()  # the ▶ Play button under the map
    page.wait_for_timeout(700)
    moving = _head_x(page)
    assert moving is not None and moving != end, "pressing Play restarts the race from the start"
    page.get_by_role("button", name="SGD explodes, Adam doesn't").click()
    wait_idle(page)
    assert_no_exception(page)
    page.wait_for_selector("text=diverged at step", timeout=20_000)
