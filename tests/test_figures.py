"""Unit tests of the figure builders (explainer/figures/kernels, optim, train, xo, images): the data they plot, the
words they are given, and the interactions they promise, without a browser."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from explainer.figures import images as fimages
from explainer.figures import kernels as fkernels
from explainer.figures import optim as foptim
from explainer.figures import train as ftrain
from explainer.figures import xo as fxo

AXES = dict(x_title="X-T", y_title="Y-T")


def _titles(fig) -> tuple[str, str]:
    return fig.layout.xaxis.title.text, fig.layout.yaxis.title.text


# ---------------------------------------------------------------- kernels
def test_kernel_value_range_and_block_mean():
    z = np.array([[-3.0, 1.0], [2.0, 0.5]])
    assert fkernels.value_range(z, "signed") == (-3.0, 3.0)  # symmetric around 0 for signed maps
    assert fkernels.block_mean(np.arange(16.0).reshape(4, 4), 2).tolist() == [[2.5, 4.5], [10.5, 12.5]]


def test_kernel_grid_figure_shows_the_numbers_with_the_given_words():
    z = np.array([[1.0, -2.0], [0.0, 3.0]])
    fig = fkernels.grid_figure(z, title="T", kind="signed", colorbar_title="CB", value_label="V", **AXES)
    heat = fig.data[0]
    assert np.array_equal(np.asarray(heat.z), z) and heat.texttemplate == "%{text}"
    assert [list(row) for row in heat.text] == [["1", "−2"], ["0", "3"]]  # a true minus (the style module's format)
    assert _titles(fig) == ("X-T", "Y-T") and fig.layout.title.text == "T"
    assert heat.colorbar.title.text == "CB" and "V = %{text}" in heat.hovertemplate


def test_kernel_map_figure_small_is_a_heatmap_large_is_a_picture():
    small = fkernels.map_figure(np.arange(64.0).reshape(8, 8), kind="grey", title="M", colorbar_title="CB",
                                value_label="V", offset=(1.0, 1.0), extent=(10, 10), box=(1, 2, 3, 3), **AXES)
    # drawn beside a 10×10 input, output cell (0, 0) where input pixel (1, 1) is; the axes count output cells
    assert small.data[0].type == "heatmap" and (small.data[0].x0, small.data[0].y0) == (0, 0)
    assert list(small.layout.xaxis.range) == [-1.5, 8.5] and len(small.layout.shapes) == 1
    assert list(small.layout.xaxis.tickvals) == list(range(8))
    side = fkernels.MAX_HEATMAP_SIDE + 1
    large = fkernels.map_figure(np.zeros((side, side)), kind="signed", title="M", colorbar_title="CB",
                                value_label="V", **AXES)
    assert large.data[0].type == "image" and large.data[0].source.startswith("data:image/jpeg;base64,")
    assert large.data[1].marker.colorbar.title.text == "CB" and _titles(large) == ("X-T", "Y-T")


def test_kernel_jpeg_data_uri_decodes_to_the_image_size():
    img = np.zeros((5, 7, 3), dtype=np.uint8)
    uri = fkernels.jpeg_data_uri(img)
    assert Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size == (7, 5)


def test_kernel_colourise_maps_values_through_the_scale_as_the_formula_does():
    """Each value's colour is the scale's entry at clip((z − zmin) / (zmax − zmin) · 255, 0, 255), truncated; values
    beyond the range take the end colours (the picture of a large map, made with fewer temporaries)."""
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.normal(0, 80, 4000), [-1e9, 1e9, -100.0, 100.0, 0.0]]).reshape(-1, 5)
    for kind in ("signed", "grey", "magnitude"):
        want = fkernels._LUTS[kind][np.clip((z + 100.0) / 200.0 * 255.0, 0, 255).astype(np.uint8)]
        got = fkernels.colourise(z, kind, -100.0, 100.0)
        assert got.shape == (*z.shape, 3) and got.dtype == np.uint8 and np.array_equal(got, want)
    assert (fkernels.colourise(z, "grey", -100.0, 100.0)[z <= -100.0] == 0).all()
    assert (fkernels.colourise(z, "grey", -100.0, 100.0)[z >= 100.0] == 255).all()


def test_grid_meta_counts_only_finite_values_with_or_without_gaps():
    """A map's summary numbers: range, strongest |value| and its place, how many are finite; the same with all values
    finite (a fast path) and with NaN/∞ gaps (which never win and are not counted)."""
    from explainer.figures.describe import grid_meta

    z = np.array([[1.0, -7.0, 3.0], [2.0, 6.5, -0.5]])
    assert grid_meta(z)["grid"] == dict(rows=2, cols=3, lo=-7.0, hi=6.5, peak=-7.0, row=0, col=1, filled=6)
    gaps = z.copy()
    gaps[0, 1], gaps[1, 2] = np.nan, np.inf
    assert grid_meta(gaps)["grid"] == dict(rows=2, cols=3, lo=1.0, hi=6.5, peak=6.5, row=1, col=1, filled=4)
    assert grid_meta(np.full((2, 2), np.nan))["grid"] is None


def test_kernel_histogram_and_neighbourhood():
    hist = fkernels.histogram_figure(np.array([0.0, 1.0, 1.0, 2.0]), title="H", bins=3, **AXES)
    assert list(hist.data[0].y) == [1, 2, 1] and _titles(hist) == ("X-T", "Y-T")
    out = np.arange(100.0).reshape(10, 10)
    pick = fkernels.neighbourhood_picker(out, 5, 5, radius=2, title="P", value_label="V", **AXES)
    assert len(pick.data[0].text) == 25 and pick.data[0].text[12] == "55"  # the 5×5 block, centre in the middle
    assert pick.layout.clickmode == "event+select" and len(pick.layout.shapes) == 1


# ---------------------------------------------------------------- optim
def _race():
    xs = np.linspace(-1, 1, 5)
    ys = np.linspace(-1, 1, 5)
    Z = xs[None, :] ** 2 + ys[:, None] ** 2
    paths = np.array([[[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]], [[1.0, 1.0], [2.0, 2.0], [np.nan, np.nan]]])
    return xs, ys, Z, paths


def test_contour_race_draws_each_path_up_to_the_step_with_the_contours():
    xs, ys, Z, paths = _race()
    fig = foptim.contour_race(xs, ys, Z, paths, ["A", "B"], [(0.0, 0.0)], log=False, loss_title="L",
                              start_title="S", min_title="MIN", upto=1, **AXES)
    names = [tr.name for tr in fig.data]
    assert "A" in names and "B" in names and "MIN" in names and _titles(fig) == ("X-T", "Y-T")
    assert sum(tr.type == "contour" for tr in fig.data) == 1 and not fig.frames  # no in-figure animation
    a = next(tr for tr in fig.data if tr.name == "A")
    assert np.array_equal(np.asarray(a.x), paths[0][:2, 0])  # the path up to step 1 …
    head = next(tr for tr in fig.data if tr.name == "A · head")
    assert list(head.x) == [paths[0][1, 0]]  # … with its head there


def test_loss_curves_and_landscape():
    losses = np.array([[2.0, 1.0, 0.5], [2.0, 4.0, np.nan]])
    fig = foptim.loss_curves(losses, ["A", "B"], step_title="STEP", loss_title="L")
    assert [tr.name for tr in fig.data] == ["A", "B"] and list(fig.data[0].y) == [2.0, 1.0, 0.5]
    assert fig.layout.yaxis.type == "log" and _titles(fig) == ("STEP", "L")
    land = foptim.landscape(np.array([-1.0, 0.0, 1.0]), np.array([-1.0, 0.0, 1.0]), np.eye(3), x_title="α",
                            y_title="β", loss_title="L")
    assert np.array_equal(np.asarray(land.data[0].z), np.eye(3))


# ---------------------------------------------------------------- train
def test_training_curves_one_train_and_one_test_line_per_run():
    hist = [{"epochs_done": e, "train_acc": 0.5 + e / 10, "test_acc": 0.6 + e / 10, "train_loss": 1.0, "test_loss": 1.2}
            for e in (0.5, 1.0)]
    fig = ftrain.curves([{"label": "run 1", "history": hist}], metric="acc", train_label="TR", test_label="TE",
                        **AXES)
    assert [tr.name for tr in fig.data] == ["run 1 · TR", "run 1 · TE"] and _titles(fig) == ("X-T", "Y-T")
    assert [round(v, 6) for v in fig.data[1].y] == [65.0, 70.0]  # accuracy in %
    assert fig.data[0].line.dash == "dash" and fig.data[1].line.dash == "solid"


def test_confusion_matrix_is_clickable_with_counts():
    m = np.array([[5, 1], [0, 7]])
    fig = ftrain.confusion(m, value_label="N", **AXES)
    assert np.array_equal(np.asarray(fig.data[0].z), np.log1p(m)) and fig.layout.clickmode == "event+select"
    cells = next(tr for tr in fig.data if tr.name == "cells")  # clickable markers over the cells, with the counts
    assert list(cells.customdata) == [5, 1, 0, 7] and list(fig.data[1].text) == ["5", "1", "0", "7"]


def test_mosaics_tile_pictures_without_axes_or_hover():
    fig = ftrain.gallery(np.zeros((3, 28, 28)), ["a", "b", "c"], cols=2)
    assert [a.text for a in fig.layout.annotations] == ["a", "b", "c"]
    k = ftrain.kernels(np.random.default_rng(0).normal(size=(4, 1, 3, 3)), title_fmt="#{i}", cols=4)
    assert [a.text for a in k.layout.annotations] == ["#0", "#1", "#2", "#3"]
    f = ftrain.feature_grid(np.random.default_rng(0).normal(size=(40, 5, 5)), title="F")
    for fig in (fig, k, f):
        assert fig.layout.xaxis.visible is False and fig.data[0].hoverinfo == "skip"
    assert np.asarray(f.data[0].z).shape == (4 * 6, 8 * 6)  # at most 32 maps, 8 a row, one blank cell between


def test_probabilities_mark_the_best_class():
    p = np.full(10, 0.05)
    p[3] = 0.55
    fig = ftrain.probabilities(p, **AXES)
    colours = fig.data[0].marker.color
    assert colours[3] != colours[0] and len(set(colours)) == 2 and fig.data[0].text[3] == "55.0%"


# ---------------------------------------------------------------- xo
def test_xo_input_grid_window_and_feature_map_mark():
    from explainer.maths import xo

    fig = fxo.input_grid(xo.X, value_label="V", window=(0, 2, 3), **AXES)
    assert np.array_equal(np.asarray(fig.data[0].marker.color), xo.X.ravel()) and len(fig.layout.shapes) == 1
    assert (fig.layout.shapes[0].x0, fig.layout.shapes[0].x1) == (1.5, 4.5) and fig.layout.clickmode == "event+select"
    fmap = fxo.feature_map(xo.run(xo.X).maps[0], title="F", value_label="V", mark=(1, 1), **AXES)
    assert fmap.layout.title.text == "F" and len(fmap.layout.shapes) == 1


def test_xo_votes_bars():
    fig = fxo.votes(["X", "O"], np.array([0.9, 0.2]), np.array([0.8, 0.2]), vote_title="VOTE", prob_title="P")
    ys = [list(tr.y) for tr in fig.data]
    assert [0.9, 0.2] in ys or [0.9, 0.2] in [list(tr.x) for tr in fig.data]


# ---------------------------------------------------------------- images
def test_digit_grid_and_channel_grid_show_the_values():
    img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    fig = fimages.digit_grid(img, numbers=True, value_label="V", colorbar_title="CB", **AXES)
    assert np.array_equal(np.asarray(fig.data[0].z), img) and _titles(fig) == ("X-T", "Y-T")
    ch = fimages.channel_grid(img, 0, title="R", value_label="V", **AXES)
    assert ch.layout.title.text == "R" and np.array_equal(np.asarray(ch.data[0].z), img)


def test_flat_vector_and_one_hot():
    vec = np.linspace(0, 1, 56)
    fig = fimages.flat_vector(vec, index_title="I", value_title="V", highlight_row=1)
    assert np.allclose(np.asarray(fig.data[0].y), vec)
    assert np.asarray(fig.data[0].marker.color).tolist() == [0.0] * 28 + [1.0] * 28  # row 1 highlighted
    oh = fimages.one_hot(7, class_title="C", value_title="V")
    assert np.asarray(oh.data[0].z).ravel().tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]


def test_picture_with_a_box():
    img = np.zeros((20, 30, 3), dtype=np.uint8)
    fig = fimages.picture(img, title="P", box=(2, 3, 5))
    assert fig.data[0].source.startswith("data:image/png;base64,") and len(fig.layout.shapes) == 1
    assert (fig.layout.shapes[0].x0, fig.layout.shapes[0].y1) == (2.5, 6.5)
    assert list(fig.layout.xaxis.range) == [-0.5, 29.5] and list(fig.layout.yaxis.range) == [19.5, -0.5]


def test_contour_race_layers_keep_the_map_figure_the_same_at_every_step():
    """Streamlit remounts a chart whose figure changes (blank until redrawn): the map's contour layer must be the
    very same figure at every step of the race, and the paths' layer must lie on the same plot area."""
    import plotly.io as pio

    xs, ys, Z, paths = _race()
    kw = dict(log=False, loss_title="L", start_title="S", min_title="MIN", **AXES)
    maps = {pio.to_json(foptim.contour_race(xs, ys, Z, paths[:, :1], [], [(0.0, 0.0)], layer="surface", **kw),
                        validate=False) for _ in range(3)}
    assert len(maps) == 1
    surface = foptim.contour_race(xs, ys, Z, paths[:, :1], [], [(0.0, 0.0)], layer="surface", **kw)
    top = [foptim.contour_race(xs, ys, Z, paths, ["A", "B"], [(0.0, 0.0)], upto=u, layer="paths", **kw) for u in (0, 2)]
    assert [tr.type for tr in surface.data] == ["contour"]
    assert all(tr.type == "scatter" for f in top for tr in f.data)
    assert pio.to_json(top[0], validate=False) != pio.to_json(top[1], validate=False)  # only the paths grow
    for f in top:
        assert f.layout.margin.to_plotly_json() == surface.layout.margin.to_plotly_json()
        assert f.layout.margin.autoexpand is False and f.layout.height == surface.layout.height
        assert list(f.layout.xaxis.range) == list(surface.layout.xaxis.range)
        assert list(f.layout.yaxis.range) == list(surface.layout.yaxis.range)
        assert f.layout.paper_bgcolor == "rgba(0,0,0,0)" and f.layout.plot_bgcolor == "rgba(0,0,0,0)"


def _grid_validated(z, *, title, x_title, y_title, value_label, signed=True, box=None, height=280,
                    number_format=None, colorbar_title="", showscale=False, clickable=False):
    """``backprop.grid`` as it was built before (Plotly's validating add_shape / add_trace / update_layout):
    the oracle of the unvalidated one."""
    import plotly.graph_objects as go

    from explainer.figures import heatmap, style

    z = np.asarray(z, dtype=float)
    lim = float(np.max(np.abs(z))) if z.size else 1.0
    fig = heatmap(z, title=title, colorscale="RdBu" if signed else "Greys", reversescale=not signed,
                  zmid=0 if signed else None, zmin=-lim if signed and lim else None, zmax=lim if signed and lim else None,
                  x_title=x_title, y_title=y_title, value_label=value_label, height=height,
                  number_format=number_format, colorbar_title=colorbar_title, showscale=showscale)
    if box is not None:
        top, left, rows, cols = box
        fig.add_shape(style.outline(left, top, left + cols - 1, top + rows - 1))
    if clickable and z.ndim == 2 and z.size:
        heat = fig.data[0]
        rr, cc = np.mgrid[: z.shape[0], : z.shape[1]]
        fig.add_trace(go.Scatter(
            x=cc.ravel(), y=rr.ravel(), mode="markers", showlegend=False, name="cells",
            customdata=np.asarray(heat.text if heat.text is not None else z).ravel().tolist(),
            marker=dict(symbol="square", size=max(8, min(24, int(0.45 * (height - 80) / max(z.shape)))),
                        color="rgba(0,0,0,0.004)"),
            hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}<br>{value_label} = %{{customdata}}<extra></extra>"))
        heat.hoverinfo = "skip"
        heat.hovertemplate = None
        fig.update_layout(clickmode="event+select", dragmode=False, hovermode="closest")
    return fig


@pytest.mark.parametrize("shape,signed,box,clickable,fmt", [
    ((5, 5), True, (1, 2, 1, 1), True, None), ((7, 7), False, None, False, None), ((3, 4), True, (0, 0, 2, 3), False, ".2f"),
    ((9, 9), True, (2, 2, 3, 3), True, None), ((1, 1), True, None, True, None), ((25, 25), False, (0, 1, 1, 1), True, None)])
def test_backprop_grid_sends_what_the_validated_build_sent(shape, signed, box, clickable, fmt):
    """The lesson's grids are built from plain dicts (issue 19: a click rebuilds several): the browser gets what
    Plotly's validated build sent, cell texts, outline, click markers and layout included."""
    import json

    import plotly.io as pio

    from explainer.figures import backprop as fbackprop
    from explainer.figures.wire import wire_dict

    z = np.random.default_rng(sum(shape)).normal(size=shape) * 7
    kw = dict(title="T", value_label="V", signed=signed, box=box, clickable=clickable, number_format=fmt, **AXES)
    fast, slow = fbackprop.grid(z, **kw), _grid_validated(z, **kw)
    def unset(v):  # Plotly's setter sends a property set to None as null, which Plotly.js reads as unset too
        if isinstance(v, dict):
            return {k: unset(x) for k, x in v.items() if x is not None}
        return [unset(x) for x in v] if isinstance(v, list) else v

    as_json = lambda fig: unset(json.loads(pio.to_json(wire_dict(fig), validate=False)))  # noqa: E731
    assert as_json(fast) == as_json(slow)
    if clickable:  # the heatmap's hover is off: the click markers carry it
        assert "hovertemplate" not in fast.to_dict()["data"][0] and fast.data[0].hoverinfo == "skip"
    assert len(fast.data) == (2 if clickable else 1) and (fast.layout.shapes != ()) == (box is not None)


def test_gallery_captions_sit_in_a_blank_band_above_the_next_row():
    """Each caption hangs under its picture in a band of half a picture's height that no picture reaches (Fashion-MNIST
    names overlapped the second row at 1280 px when the rows were 2 pixels apart)."""
    fig = ftrain.gallery(np.full((16, 28, 28), 200.0), [f"name {i}" for i in range(16)], cols=8)
    z = np.asarray(fig.data[0].z, dtype=float)
    inked = np.flatnonzero(~np.isnan(z).all(axis=1))  # canvas rows holding some picture
    for a in fig.layout.annotations:
        assert a.yanchor == "top"
        below = inked[inked > a.y]
        assert below.size == 0 or below[0] - a.y >= 14, (a.text, a.y, below[:1])  # ≥ half of 28 blank below it


def test_colour_pictures_are_shown_in_their_colours():
    """Own colour pictures (issue 23): the sample grid and the patches draw them in colour (a Plotly image on white, on
    the grid and with the captions a grey picture has), not by their brightness."""
    from explainer.figures import network as fnet

    rgb = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3)).astype(np.uint8)
    fig, grey = ftrain.gallery(rgb, list("abcde"), cols=4), ftrain.gallery(rgb[..., 0], list("abcde"), cols=4)
    z = fig.data[0].z
    assert fig.data[0].type == "image" and z.dtype == np.uint8 and z.shape == (*np.shape(grey.data[0].z), 3)
    np.testing.assert_array_equal(z[1:33, 1:33], rgb[0])
    assert (z[0] == 255).all()  # the blank border: white
    assert [a.to_plotly_json() for a in fig.layout.annotations] == [a.to_plotly_json() for a in grey.layout.annotations]
    patches = fnet.patches(rgb[:2] / 255.0, ["x", "y"], title="t")
    assert patches.data[0].type == "image" and patches.data[0].z.shape == (32, 65, 3)  # one row: no caption band below
    np.testing.assert_array_equal(patches.data[0].z[:32, 33:65], rgb[1])


@pytest.mark.parametrize("spec", [None, ".2f", ".0f", ".3g", ".1e", ".1%"])
def test_cell_texts_match_the_scalar_formatting_cell_by_cell(spec):
    """``style.texts`` formats a grid column-wise (NumPy string functions): every cell's text is the one the scalar
    function gives (``fmt`` / ``number``), for signed, whole, tiny, rounding-to-zero, huge and non-finite values."""
    from explainer.figures.style import fmt, number, texts

    rng = np.random.default_rng(7)
    edge = [0.0, -0.0, 0.005, -0.005, 0.004999, -0.004, -0.995, 0.995, 2.675, -2.675, 1 - 1e-10, -1 + 1e-10, 1e20, -1e20,
            4.6e18, -7e-5, 123456.789, np.nan, np.inf, -np.inf]
    values = np.concatenate([rng.normal(size=400) * 3, np.round(rng.normal(size=200) * 100), rng.normal(size=100) * 1e-3,
                             np.resize(edge, 100)])
    for z in (values.reshape(20, 40), np.round(values.reshape(40, 20)), values[:12].reshape(3, 4)):
        scalar = fmt if spec is None else (lambda v: number(v, spec))
        assert texts(z, spec) == [[scalar(v) for v in row] for row in z]
