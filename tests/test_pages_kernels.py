"""AppTest of the Kernels page: defaults in both languages, kernel/view changes, the pixel inspector,
bad custom kernels (message shown, last good view kept), the Train page's link, examples, shift."""
from __future__ import annotations

import numpy as np
import pytest

from explainer.errors import UserError
from explainer.maths.conv import conv2d
from explainer.maths.kernels import parse_kernel
from explainer.i18n import translate
from explainer.data.images import sample, to_grey
from tests.conftest import app_test, mnist_test_digit
from ui.tables.kernels import TABLE as KERNELS


def run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_defaults_show_input_output_and_inspector(lang):
    at = run(app_test("kernels", lang))
    assert at.title[0].value == translate("kernels.title", lang)
    assert not at.error
    # the inspector starts at the strongest response and shows the map's own number there
    img = to_grey(sample("camera")).astype(float)
    out = conv2d(img, [[1, 0, -1]] * 3)
    r, c = np.unravel_index(np.argmax(np.abs(out)), out.shape)
    # the charts, by name: input, output, histogram, neighbourhood, window, kernel, products
    assert [ch.proto.alt for ch in at.get("plotly_chart")] == [
        translate("kernels.input_title", lang, h=512, w=512), translate("kernels.output_title", lang, h=510, w=510),
        translate("kernels.hist_title", lang), translate("kernels.pick_title", lang, r=r, c=c),
        *(translate(f"kernels.{k}_title", lang) for k in ("window", "kernel", "products"))]
    # the output chart's summary: its size, range and strongest value, from the map computed here
    minus = lambda v: f"{v:.0f}".replace("-", "−")  # noqa: E731
    summary = (translate("chart.grid", lang, rows=510, cols=510, lo=minus(out.min()), hi=minus(out.max()))
               + translate("chart.strongest", lang, value=minus(out[r, c]), row=r, col=c) + translate("chart.full_stop", lang))
    assert summary in [cap.value for cap in at.caption]
    assert (at.number_input(key="kn_row").value, at.number_input(key="kn_col").value) == (r, c)
    assert translate("kernels.matches", lang, value=f"{out[r, c]:.0f}".replace("-", "−"), r=r, c=c) in markdown(at)
    assert any(f"= {out[r, c]:.0f}" in lx.value for lx in at.latex)


def test_inspector_follows_row_and_column():
    at = run(app_test("kernels"))
    at.number_input(key="kn_row").set_value(10)
    at.number_input(key="kn_col").set_value(20)
    run(at)
    out = conv2d(to_grey(sample("camera")).astype(float), [[1, 0, -1]] * 3)
    assert translate("kernels.matches", "en", value=f"{out[10, 20]:.0f}".replace("-", "−"), r=10, c=20) in markdown(at)


@pytest.mark.parametrize("name", ["sobel_x", "gaussian_5", "box_blur_3", "curve", "identity"])
def test_kernels_and_output_views(name):
    at = run(app_test("kernels"))
    at.selectbox(key="kn_kernel").set_value(name)
    run(at)
    for view in ("clipped", "magnitude", "raw"):
        at.segmented_control(key="kn_out").set_value(view)
        run(at)
        assert not at.error
    assert translate(f"kernels.what.{name}", "en") in markdown(at)


def test_flip_changes_sign_of_an_asymmetric_kernel():
    at = run(app_test("kernels"))
    at.selectbox(key="kn_kernel").set_value("sobel_x")
    run(at)
    before = at.latex[0].value
    at.toggle(key="kn_flip").set_value(True)
    run(at)
    assert at.latex[0].value != before


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("text, key", [
    ("1,abc,1;0,0,0;1,1,1", "errors.not_a_number"),
    ("1,nan,1", "errors.not_finite"),
    ("1,inf;1,1", "errors.not_finite"),
    ("1,1e9", "errors.too_large"),
    ("1,0,-1;1,0", "errors.ragged_rows"),
    ("   ", "errors.empty_kernel"),
    (";".join([",".join(["1"] * 8)] * 8), "errors.grid_too_big"),
])
def test_bad_custom_kernel_keeps_last_view(lang, text, key):
    at = run(app_test("kernels", lang))
    at.selectbox(key="kn_kernel").set_value("custom")
    run(at)
    good = [(ch.proto.alt, ch.proto.spec) for ch in at.get("plotly_chart")]
    at.text_area(key="kn_custom").input(text)
    run(at)
    # the whole message of this text's problem: its own key, with the values the parser found in it
    with pytest.raises(UserError) as problem:
        parse_kernel(text)
    assert problem.value.key == key
    assert [e.value for e in at.error] == [translate(key, lang, **{k: _shown(k, v) for k, v in problem.value.params.items()})]
    assert [(ch.proto.alt, ch.proto.spec) for ch in at.get("plotly_chart")] == good  # the last good view stays


def _shown(name: str, value):
    """A message parameter as the page writes it: text the learner typed escaped for Markdown (``ui.shell.literal``:
    shown as typed), a negative number with a true minus sign, a ``param`` catalogue word as it is."""
    from ui.shell import literal

    if isinstance(value, str) and name != "param":
        return literal(value)
    return "−" + str(-value) if isinstance(value, (int, float)) and value < 0 else value


def test_custom_kernel_with_divisor_and_zero_divisor():
    at = run(app_test("kernels"))
    at.selectbox(key="kn_kernel").set_value("custom")
    run(at)
    at.text_area(key="kn_custom").input("1,1,1;1,1,1;1,1,1")
    at.selectbox(key="kn_div").set_value("count")
    run(at)
    assert not at.error
    assert any(r"{9}" in lx.value for lx in at.latex)
    at.selectbox(key="kn_div").set_value("number")
    run(at)
    at.number_input(key="kn_divnum").set_value(0.0)
    run(at)
    assert [e.value for e in at.error] == [translate("errors.bad_divisor", "en", value=0.0)]


def test_kernel_too_big_for_image_keeps_view():
    at = app_test("kernels")
    at.query_params.update(kn_src="step_edge", kn_kernel="custom", kn_custom=";".join(["1,1,1,1,1,1,1"] * 7))
    run(at)
    assert at.error  # 7×7 kernel on a 6×6 image: no output


def test_link_from_the_train_page():
    """st.switch_page("pages/kernels.py", query_params={kn_kernel, kn_custom, kn_src, kn_digit})."""
    at = app_test("kernels")
    at.query_params.update(kn_kernel="custom", kn_custom="0,1,0;1,-4,1;0,1,0", kn_src="mnist", kn_digit="7")
    run(at)
    assert not at.error
    assert at.selectbox(key="kn_kernel").value == "custom"
    assert at.text_area(key="kn_custom").value == "0,1,0;1,-4,1;0,1,0"
    assert at.selectbox(key="kn_src").value == "mnist"
    assert at.number_input(key="kn_digit").value == 7
    # 28×28 digit, 3×3 kernel → a 26×26 output: the range sentence with the map computed here
    out = conv2d(mnist_test_digit(7)[0].astype(float), parse_kernel("0,1,0;1,-4,1;0,1,0"))
    minus = lambda v: f"{v:.0f}".replace("-", "−")  # noqa: E731
    assert translate("kernels.range", "en", lo=minus(out.min()), hi=minus(out.max()), h=26, w=26, H=28, W=28, kh=3,
                     kw=3) in markdown(at)


def test_examples_show_180_and_open_in_explorer():
    at = app_test("kernels")
    at.query_params["kn_view"] = "examples"
    run(at)
    assert any("= 180" in lx.value for lx in at.latex)
    assert any("9000" in lx.value for lx in at.latex)  # the curve detector on its matching curve
    at.button(key="kn_ex_open").click()
    run(at)
    assert at.segmented_control(key="kn_view").value == "explore"
    assert at.selectbox(key="kn_src").value == "step_edge"
    assert translate("kernels.matches", "en", value="180", r=0, c=1) in markdown(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shift_section(lang):
    at = app_test("kernels", lang)
    at.query_params["kn_view"] = "shift"
    run(at)
    # the lesson's point at the default shift, with the four distances computed here (torch, not the page's maths)
    p1, p7, f1, f7 = _shift_distances(KERNELS["kn_shift"].default)
    md = [m.value for m in at.markdown]
    assert translate("kernels.verdict_pixels_seven", lang, a=p7, b=p1) in md
    assert translate("kernels.verdict_features_one", lang, a=f1, b=f7) in md
    at.slider(key="kn_shift").set_value(0)
    run(at)
    p1, p7, f1, f7 = _shift_distances(0)
    assert p1 == f1 == "0.00" and translate("kernels.verdict_pixels_one", lang, a=p1, b=p7) in markdown(at)


def _shift_distances(s: int) -> tuple[str, ...]:
    """The shift demo's distances as the page prints them: the "1" moved ``s`` pixels right to the "1" and to the
    "7" on pixels (0–1), then on its features (four kernels, ReLU, 13×13 max-pooling keeping the partial window)."""
    import torch
    import torch.nn.functional as F

    from explainer.maths import shift
    from explainer.maths.kernels import kernel

    one, seven = (mnist_test_digit(i)[0] / 255.0 for i in (shift.ONE_INDEX, shift.SEVEN_INDEX))
    moved = np.zeros_like(one)
    moved[:, s:] = one[:, :28 - s]
    bank = torch.tensor(np.stack([kernel(n).weights for n in shift.FEATURE_KERNELS]), dtype=torch.float64)[:, None]
    feat = lambda a: F.max_pool2d(F.relu(F.conv2d(torch.tensor(a)[None, None], bank)), 13, 13, ceil_mode=True).numpy()  # noqa: E731
    dist = (np.linalg.norm(moved - one), np.linalg.norm(moved - seven),
            np.linalg.norm(feat(moved) - feat(one)), np.linalg.norm(feat(moved) - feat(seven)))
    return tuple(f"{d:.2f}" for d in dist)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bad_shared_link_shows_message_and_the_default_kernel_meanwhile(lang):
    """No last good view on a first visit: the message, and the default kernel on the linked image."""
    at = app_test("kernels", lang)
    at.query_params.update(kn_kernel="custom", kn_custom="1,2;3", kn_src="mnist", kn_digit="3")
    run(at)
    assert at.error[0].value == translate("errors.ragged_rows", lang, row=2, got=1, want=2)
    assert at.text_area(key="kn_custom").value == "1,2;3"  # the user's text stays, to be fixed
    assert translate("kernels.showing_default", lang, kernel=translate("kernels.k.vertical_edge", lang)) in \
        [i.value for i in at.info]
    # the default kernel's views on the linked digit: 28×28 in, 26×26 out (3×3 kernel)
    alts = [ch.proto.alt for ch in at.get("plotly_chart")]
    assert alts[:2] == [translate("kernels.input_title", lang, h=28, w=28), translate("kernels.output_title", lang, h=26, w=26)]
    at.text_area(key="kn_custom").input("1,2;3,4")
    run(at)
    assert not at.error and not at.info
    # 28×28 digit, 2×2 kernel → a 27×27 output: the chart's name and the summary of the map computed here
    assert [ch.proto.alt for ch in at.get("plotly_chart")][1] == translate("kernels.output_title", lang, h=27, w=27)
    out = conv2d(mnist_test_digit(3)[0].astype(float), [[1, 2], [3, 4]])
    assert translate("chart.grid", lang, rows=27, cols=27, lo=f"{out.min():.0f}", hi=f"{out.max():.0f}") in markdown(at)


def test_custom_grid_resizes_and_follows_the_text():
    at = app_test("kernels", kn_kernel="custom", kn_src="step_edge")
    run(at)
    assert (at.number_input(key="kn_grid_rows").value, at.number_input(key="kn_grid_cols").value) == (3, 3)
    at.number_input(key="kn_grid_rows").set_value(4)
    run(at)
    assert at.text_area(key="kn_custom").value == "1,0,-1;1,0,-1;1,0,-1;0,0,0"  # grown with zeros
    at.number_input(key="kn_grid_cols").set_value(2)
    run(at)
    assert at.text_area(key="kn_custom").value == "1,0;1,0;1,0;0,0"  # the top-left part kept
    assert "3×5" in markdown(at)  # 6×6 image, 4×2 kernel
    at.text_area(key="kn_custom").input("1 2 3 4 5 6")
    run(at)
    assert (at.number_input(key="kn_grid_rows").value, at.number_input(key="kn_grid_cols").value) == (1, 6)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_colour_channels_of_a_colour_photo(lang):
    at = app_test("kernels", lang)
    at.query_params.update(kn_src="astronaut")
    run(at)
    assert translate("kernels.rgb_note", lang) in markdown(at)
    n = len(at.get("plotly_chart"))
    at.toggle(key="kn_rgb").set_value(True)
    run(at)
    assert not at.error
    assert len(at.get("plotly_chart")) == n + 4  # red, green, blue, and their sum + bias
    assert translate("kernels.rgb_header", lang) in [s.value for s in at.header]
    text = markdown(at)
    rgb = sample("astronaut")
    per = np.stack([conv2d(rgb[..., ch].astype(float), [[1, 0, -1]] * 3) for ch in range(3)])
    assert f"{np.abs(per.sum(0)).max():.0f}" in text
    # the grey map differs from the luma-weighted channel maps only by the grey image's rounding to whole
    # numbers: at most 0.5 × Σ|w| = 3 for the vertical edge kernel
    luma = np.tensordot([0.299, 0.587, 0.114], per, axes=1)
    diff = np.abs(luma - conv2d(to_grey(rgb).astype(float), [[1, 0, -1]] * 3)).max()
    assert 0 < diff <= 3 and f"{diff:.3g}" in text


def test_grey_image_has_no_channel_toggle():
    at = run(app_test("kernels"))
    assert not [tg for tg in at.toggle if tg.key == "kn_rgb"]


def test_colour_channels_follow_only_the_image_the_maps_show():
    """A tiny colour upload that the (kept) 7×7 kernel doesn't fit: a message, the last good maps, and no
    channel view computed on the new picture with the old settings."""
    from ui.images import PickedImage

    at = app_test("kernels")
    at.query_params.update(kn_src="astronaut", kn_rgb="1", kn_kernel="custom", kn_custom=";".join(["1,0,0,0,0,0,-1"] * 7))
    run(at)
    header = translate("kernels.rgb_header", "en")
    assert header in [s.value for s in at.header]
    n_before = len(at.get("plotly_chart"))
    tiny = np.random.default_rng(0).integers(0, 256, size=(4, 4, 3)).astype(np.uint8)
    at.session_state["_kn_uploaded"] = PickedImage(tiny, "tiny.png", True)
    at.selectbox(key="kn_src").set_value("upload")
    run(at)
    assert at.error  # the kernel doesn't fit the new picture
    assert at.toggle(key="kn_rgb").value  # the user's choice is kept …
    assert len(at.get("plotly_chart")) == n_before - 4  # … but no channel maps of the wrong picture
    assert header not in [s.value for s in at.header]


def test_bad_custom_kernel_leaves_the_url_with_a_named_kernel():
    at = app_test("kernels")
    at.query_params.update(kn_kernel="custom", kn_custom="1,2;3")
    at = run(at)
    assert at.error and "kn_custom" not in at.query_params  # refused text is never published (issue 11)
    at.selectbox(key="kn_kernel").set_value("sobel_x")
    run(at)
    assert not at.error and "kn_custom" not in at.query_params
    at.selectbox(key="kn_kernel").set_value("custom")  # back to custom: the text is still there to fix
    run(at)
    assert at.text_area(key="kn_custom").value == "1,2;3"


def test_magnitude_view_inspector_and_histogram_show_magnitudes():
    at = run(app_test("kernels"))
    at.selectbox(key="kn_kernel").set_value("sobel_x")
    run(at)
    at.segmented_control(key="kn_out").set_value("magnitude")
    run(at)
    assert not at.exception and not at.error
    assert "**magnitude**" in markdown(at)
    import json

    import base64

    import numpy as np

    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    hist = [f for f in specs if f["layout"].get("title", {}).get("text") == translate("kernels.hist_title", "en")]
    assert hist, "the histogram is drawn"
    x = hist[0]["data"][0]["x"]
    x = np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]) if isinstance(x, dict) else np.array(x)
    assert x.min() >= 0  # magnitudes, not the raw signed values
    picker = [f for f in specs if f["data"] and f["data"][0].get("mode") == "markers+text"]
    assert picker and all(float(v) >= 0 for v in picker[0]["data"][0]["text"])  # the neighbourhood too


@pytest.mark.parametrize("kernel, view", [("sobel_x", "magnitude"), ("scharr_y", "magnitude"),
                                          ("emboss", "magnitude"), ("sobel_x", "clipped")])
def test_the_neighbourhood_shows_each_cell_as_the_inspector_works_it_out(kernel, view):
    """Each of the 9×9 neighbourhood's cells (its square's colour) is what the inspector's formula gives for that cell
    in the view: √(gx² + gy²) with gy the partner kernel's sum at that cell, |value| for a kernel without one,
    or the value clipped to 0–255 (the cells are worked out together, as the map is)."""
    import json

    from explainer.maths.inspector import gradient_magnitude, inspect_pixel
    from explainer.maths.kernels import clip_display, kernel as named

    at = run(app_test("kernels"))
    at.selectbox(key="kn_kernel").set_value(kernel)
    run(at)
    at.segmented_control(key="kn_out").set_value(view)
    run(at)
    at.number_input(key="kn_row").set_value(200)
    at.number_input(key="kn_col").set_value(7)  # near the left edge: the block is cut at column 0
    run(at)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["data"][0].get("mode") == "markers+text")
    trace = spec["data"][0]

    def arr(v):
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]) if isinstance(v, dict) else np.array(v)

    xs, ys, shown = arr(trace["x"]).astype(int), arr(trace["y"]).astype(int), arr(trace["marker"]["color"])
    assert xs.min() == 3 and xs.max() == 11 and ys.min() == 196 and ys.max() == 204 and len(shown) == 81
    img = to_grey(sample("camera")).astype(np.float64)
    k = named(kernel)
    for x, y, v in zip(xs, ys, shown):
        raw = inspect_pixel(img, k.weights, y, x, k.divisor).value
        if view == "clipped":
            want = float(clip_display(np.array([raw]))[0])
        elif k.pair is None:
            want = abs(raw)
        else:
            p = named(k.pair)
            want = float(gradient_magnitude(np.array([raw]), np.array([inspect_pixel(img, p.weights, y, x, p.divisor).value]))[0])
        assert v == want, (x, y)  # integer sums: the same number exactly


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_step_edge_output_axes_count_output_cells_products_have_no_minus_zero_histogram_says_the_values(lang):
    """Issue 21 item 11, the 60|0 step edge under the vertical edge kernel: the text's "row 0, column 1" sits at
    the output map's axis 0, 1 (it was numbered in input coordinates: 1, 2); no product reads "−0"; the histogram's
    summary names the 16 values (8 × 0 and 8 × 180), not "60 bars, highest 8 at 1.5"."""
    import json

    at = app_test("kernels", lang, timeout=120)
    at.query_params.update(kn_src="step_edge", kn_kernel="vertical_edge", kn_row="0", kn_col="1")
    run(at)
    assert translate("kernels.matches", lang, value="180", r=0, c=1) in markdown(at)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    out_title = translate("kernels.output_title", lang, h=4, w=4)
    out = [f for f in specs if f["layout"].get("title", {}).get("text") == out_title]
    assert out, "the output map"
    heat, layout = out[0]["data"][0], out[0]["layout"]
    # each of the three defects its own line (all show on the tree before the fix)
    problems = []
    first = (heat.get("x0", 0), heat.get("y0", 0))
    ticks = (layout["xaxis"].get("tickvals"), layout["yaxis"].get("tickvals"))
    if first != (0, 0) or ticks != ([0, 1, 2, 3], [0, 1, 2, 3]):
        problems.append(f"the output map is numbered in input coordinates: first cell at {first}, ticks {ticks}")
    shown = [v for f in specs for tr in f["data"] for row in (tr.get("text") or []) if isinstance(row, list)
             for v in row]
    assert shown, "no numbers written in the figures"
    minus_zero = sorted({v for v in shown if v in ("−0", "-0")})
    minus_zero += [lx.value for lx in at.latex if "−0 " in lx.value or "(-0)" in lx.value]
    if minus_zero:
        problems.append(f"products read minus zero: {minus_zero[:3]}")
    captions = [c.value for c in at.caption]
    values = translate("chart.histogram_values_other", lang, n=16,
                       listed=translate("chart.list_joiner", lang).join(["8 × 0", "8 × 180"]))
    if not any(values in c for c in captions) or any("60 bars" in c or "60 根柱子" in c for c in captions):
        problems.append(f"the histogram's summary does not name its 16 values (8 × 0, 8 × 180): "
                        f"{[c for c in captions if 'bars' in c or '柱' in c]}")
    assert not problems, problems
    # beside the 6×6 input: output cell (0, 0) is drawn where input pixel (1, 1) is (the axes are shifted by 1)
    assert layout["xaxis"]["range"] == [-1.5, 4.5] and layout["yaxis"]["range"] == [4.5, -1.5]
    box = layout["shapes"][0]  # the inspected cell, in the map's own coordinates
    assert (box["x0"] + box["x1"]) / 2 == 1 and (box["y0"] + box["y1"]) / 2 == 0
