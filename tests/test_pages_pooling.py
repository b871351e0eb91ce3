"""AppTest of the Pooling page: stepper (max / average / global), overlap preset, real image, X/O maps."""
import json

import numpy as np
import pytest

from explainer.maths.formulas import pool_size
from explainer.i18n import translate
from tests.conftest import app_test
from ui.tables.pooling import VIEWS


def charts(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def output_numbers(at) -> list[str]:
    for spec in charts(at):
        traces = [tr for tr in spec["data"] if tr.get("type") == "heatmap"]
        if spec["layout"].get("title", {}).get("text") in ("Pooled output", "池化输出"):
            return [v for tr in traces for row in tr["text"] for v in row if v != ""]
    raise AssertionError("no pooled output figure")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("view", VIEWS)
def test_every_part_renders_in_both_languages(view, lang):
    at = app_test("pooling", lang=lang, pl_view=view).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == translate("pooling.title", lang)
    # the chosen view's own section, in this language, and its charts, each named
    assert at.segmented_control(key="pl_view").value == view
    assert at.header[0].value == translate(f"pooling.{view}_header", lang)
    assert translate(f"pooling.{view}_intro", lang) in [m.value for m in at.markdown]
    assert at.get("plotly_chart") and all(ch.proto.alt for ch in at.get("plotly_chart"))


def test_default_max_pooling_steps_and_highlights_the_maximum():
    at = app_test("pooling").run()
    assert "output **3×3**" in text(at) and "25 % of the values are kept" in text(at)
    at.button(key="pl_last").click().run()
    x = np.random.default_rng(0).integers(0, 10, size=(6, 6)).astype(float)
    want = x.reshape(3, 2, 3, 2).max(axis=(1, 3))
    assert output_numbers(at) == [str(int(v)) for v in want.ravel()]
    assert f"= **{int(want[2, 2])}**" in text(at)  # the last window's max, written out
    window = [c for c in charts(at) if c["layout"].get("title", {}).get("text") == "This window"][0]
    assert window["layout"]["shapes"]  # the winning cell is outlined


def test_average_pooling_and_padding_counting():
    at = app_test("pooling").run()
    at.segmented_control(key="pl_mode").set_value("avg").run()
    assert not at.error
    at.slider(key="pl_pad").set_value(1).run()
    assert "output **4×4**" in text(at)
    first = text(at)
    assert "/ 4 = **" in first  # corner window: 1 value + 3 padded zeros, all counted
    at.toggle(key="pl_count").set_value(False).run()
    assert "/ 1 = **" in text(at)


def test_global_average_pooling():
    at = app_test("pooling").run()
    at.segmented_control(key="pl_mode").set_value("global").run()
    x = np.random.default_rng(0).integers(0, 10, size=(6, 6)).astype(float)
    assert "output **1×1**" in text(at)
    mean = f"{x.mean():.2f}".rstrip("0").rstrip(".")
    assert mean in text(at) and not at.exception


def test_overlapping_preset_and_ceil_mode():
    at = app_test("pooling").run()
    at.button(key="pl_overlap").click().run()
    assert at.slider(key="pl_size").value == 3 and at.slider(key="pl_stride").value == 2
    assert "output **2×2**" in text(at) and at.info  # overlap note
    # 6×6 with window 3, stride 2: windows start at 0 and 2, so row and column 5 are never pooled
    assert [w.value for w in at.warning] == [translate("pooling.uncovered", "en", rows=5, cols=5)]
    at.toggle(key="pl_ceil").set_value(True).run()
    assert "output **3×3**" in text(at) and not at.warning


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_too_much_padding_shows_a_message_and_keeps_the_last_view(lang):
    at = app_test("pooling", lang=lang).run()
    before = [(ch.proto.alt, ch.proto.spec) for ch in at.get("plotly_chart")]
    at.slider(key="pl_pad").set_value(2).run()  # > half of 2
    assert [e.value for e in at.error] == [translate("errors.pool_padding", lang, p=2, k=2, half=1)]
    assert [(ch.proto.alt, ch.proto.spec) for ch in at.get("plotly_chart")] == before and not at.exception  # kept


def test_window_larger_than_input_has_no_output_message():
    at = app_test("pooling").run()
    at.slider(key="pl_h").set_value(2).run()
    at.slider(key="pl_size").set_value(4).run()
    stride = at.slider(key="pl_stride").value
    assert [e.value for e in at.error] == [translate("errors.no_output", "en", n=2, k=4, d=1, p=0, s=stride)]


def test_xo_maps_as_input_and_image_region():
    at = app_test("pooling", pl_input="xo").run()
    assert "output **3×3** per channel (3 channels, 27 windows)" in text(at)
    at.toggle(key="pl_ceil").set_value(True).run()
    assert "output **4×4**" in text(at)
    at = app_test("pooling", pl_input="image").run()
    assert not at.exception and not at.error and "output **4×4**" in text(at)


def test_real_image_levels():
    at = app_test("pooling", pl_view="image").run()
    assert "512×512 → 128×128" in text(at)
    at.slider(key="pl_levels").set_value(3).run()
    assert "512×512 → 64×64" in text(at) and "64 input pixels" in text(at)
    means = [m.value for m in at.metric]
    assert int(means[1]) > int(means[0])  # max pooling brightens


def test_xo_shift_absorbed_by_max_pooling():
    at = app_test("pooling", pl_view="xo").run()
    maps, pooled = (float(m.value.rstrip(" %")) for m in at.metric)
    assert pooled > maps  # pooling keeps more cells unchanged than the raw maps
    assert "strongest match is still there" in text(at)
    at.slider(key="pl_dx").set_value(0).run()
    assert [m.value for m in at.metric] == ["100 %", "100 %"]


def test_ceil_mode_formula_agrees_with_the_output_the_page_shows():
    """3×3 input, window 2, stride 2, padding 1, ceil mode: the last window would start in the padding, so
    the output is 2×2 (the page's formula once said 3)."""
    at = app_test("pooling", pl_h=3, pl_w=3, pl_size=2, pl_stride=2, pl_pad=1, pl_ceil=True).run()
    assert not at.exception
    latex = [e.value.strip("$\n") for e in at.latex]
    assert latex == [pool_size(3, 2, 2, 1, True, "H").latex, pool_size(3, 2, 2, 1, True, "W").latex]
    assert latex[0].endswith(r"+ 1 - 1 = 2")
    assert translate("pooling.ceil_dropped", "en") in [c.value for c in at.caption]
    size_text = translate("pooling.size_text_one", "en", h=3, w=3, oh=2, ow=2, c=1, windows="4 windows", kept=44)
    assert size_text in [m.value for m in at.markdown]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("mode", ["max", "avg", "global"])
def test_the_footnote_explains_the_chosen_mode(mode, lang):
    """Issue 21 item 14: in average mode the footnote explained max pooling."""
    at = app_test("pooling", lang, timeout=120, pl_mode=mode).run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    if mode != "max":  # the defect: the average modes' footnote explained max pooling
        wrong = [c for c in captions if c.startswith("Max pooling" if lang == "en" else "最大池化")]
        assert not wrong, f"in {mode} mode the footnote explains max pooling: {wrong}"
    assert translate(f"pooling.stepper_note_{mode}", lang) in captions
    others = [m for m in ("max", "avg", "global") if m != mode]
    assert not [c for c in captions if c in {translate(f"pooling.stepper_note_{m}", lang) for m in others}]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_max_and_average_side_by_side(lang):
    """Issue 21 item 14: both results for the same input and window, filled up to the same step."""
    from explainer.maths.pooling import pool2d

    at = app_test("pooling", lang, timeout=120, pl_mode="avg", pl_compare=True).run()
    assert not at.exception and not at.error
    specs = charts(at)
    titles = [s["layout"].get("title", {}).get("text") for s in specs]
    max_title, avg_title = translate("pooling.compare_max_title", lang), translate("pooling.compare_avg_title", lang)
    assert max_title in titles and avg_title in titles, f"no max and average pooling side by side; the charts: {titles}"
    # the input grid: the stepper's grid figure holds the values; pool it here, independently
    grid = next(s for s in specs if s["layout"].get("title", {}).get("text") == translate("pooling.grid_title", lang))
    z = grid["data"][0]["z"]
    if isinstance(z, dict):  # Plotly's binary encoding
        import base64

        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(
            [int(n) for n in str(z["shape"]).split(",")])
    z = np.array(z, dtype=float)
    x = z[~np.isnan(z).all(axis=1)][:, ~np.isnan(z).all(axis=0)]
    first_max, first_avg = pool2d(x, 2, 2, "max")[0, 0], pool2d(x, 2, 2, "avg")[0, 0]
    from explainer.figures.style import fmt

    want = translate("pooling.compare_text", lang, max=fmt(first_max), avg=fmt(first_avg), diff=fmt(first_max - first_avg))
    assert want in text(at)
    at.button(key="pl_next").click().run()  # the comparison follows the stepper
    assert not at.exception
    step2 = translate("pooling.compare_text", lang, max=fmt(pool2d(x, 2, 2, "max")[0, 1]),
                      avg=fmt(pool2d(x, 2, 2, "avg")[0, 1]),
                      diff=fmt(pool2d(x, 2, 2, "max")[0, 1] - pool2d(x, 2, 2, "avg")[0, 1]))
    assert step2 in text(at)
    at.toggle(key="pl_compare").set_value(False).run()
    assert max_title not in [s["layout"].get("title", {}).get("text") for s in charts(at)]
