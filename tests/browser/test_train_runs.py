"""Train page in a real browser with a kept run: a link (?run=…) brings it back, a reload keeps it,
and a click on a confusion-matrix cell shows those digits."""
from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_exception, wait_idle

CELL_XY = """([row, col]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!gd.data || !gd.data[0] || gd.data[0].type !== 'heatmap' || !gd.data.some(t => t.name === 'cells')) continue;
    gd.scrollIntoView({block: 'center'});
    const fl = gd._fullLayout, r = gd.getBoundingClientRect();
    return [r.left + fl.xaxis._offset + fl.xaxis.l2p(col), r.top + fl.yaxis._offset + fl.yaxis.l2p(row),
            fl.xaxis.range.map(v => Math.round(v * 10) / 10), fl.xaxis.tickvals || null];
  }
  return null;
}"""


@pytest.fixture(scope="module")
def kept_run():
    """A small real run, trained here and saved in the run store the test server reads."""
    from explainer.data.mnist import load_mnist
    from explainer.engine.runstore import RunStore
    from explainer.learning.runs import KeptRun
    from explainer.learning.train import TrainConfig, evaluate, save_checkpoint, train

    data = load_mnist()
    result = train(TrainConfig(model="fast", train_size=3000, seed=1), data)
    pred = evaluate(result.model, data[2], data[3])["predictions"]
    run = KeptRun(label="Run 1 · kept", config=result.config, history=result.history,
                  test_accuracy=result.test_accuracy, seconds=result.train_seconds, ips=result.images_per_second,
                  stopped=False, device="cpu")
    run_id = RunStore().save(run, save_checkpoint(result.model, result.config))
    # the off-diagonal cell with the most mistakes
    import numpy as np

    cm = np.zeros((10, 10), dtype=int)
    np.add.at(cm, (data[3], pred), 1)
    np.fill_diagonal(cm, -1)
    true, pr = np.unravel_index(np.argmax(cm), cm.shape)
    return run_id, int(true), int(pr), int(cm[true, pr])


def test_link_reload_and_confusion_cell_click(page, app, kept_run):
    run_id, true, pred, n = kept_run
    page.goto(f"{app}/train?run={run_id}")  # loading MNIST and scoring the run can be slow on a busy machine
    wait_idle(page, 120_000)
    assert_no_exception(page)
    page.wait_for_function(f"() => ({CELL_XY})([0, 0]) !== null", timeout=120_000)
    wait_idle(page, 120_000)
    try:
        page.wait_for_selector("text=Link to this run", timeout=30_000)
    except Exception:
        page.screenshot(path="/tmp/train_runs_fail.png")
        raise
    page.evaluate(CELL_XY, [true, pred])
    page.wait_for_timeout(500)
    x, y, xrange, ticks = page.evaluate(CELL_XY, [true, pred])
    assert xrange == [-0.5, 9.5] and ticks == list(range(10))  # axes 0…9
    page.mouse.click(x, y)
    caption = f"{n} test digits that are {true} and were read as {pred}"
    try:
        page.wait_for_selector(f"text={caption}", timeout=60_000)
    except Exception:
        page.screenshot(path="/tmp/train_runs_fail.png")
        raise
    wait_idle(page)
    assert_no_exception(page)
    # a reload keeps the run (the URL names it) and shows the same view
    page.reload()
    wait_idle(page, 120_000)
    page.wait_for_selector("text=Link to this run", timeout=90_000)
    assert f"run={run_id}" in page.url
    assert_no_exception(page)
