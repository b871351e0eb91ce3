"""The chart's wire form (``explainer.figures.wire.wire_dict``) is Plotly's ``to_dict`` without the deep copy:
the same JSON for every kind of figure the app draws, and the figure itself is left as it was. Pictures are
PNG-encoded once per content (``explainer.figures.images.png_data_uri``)."""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from PIL import Image

import streamlit.elements.plotly_chart  # noqa: F401 — the server's default template (Streamlit's theme)
from explainer.figures import fast_figure, heatmap
from explainer.figures import images as image_figs
from explainer.figures import kernels as kernel_figs
from explainer.figures.wire import wire_dict

LAB = dict(x_title="x", y_title="y", value_label="v")
RNG = np.random.default_rng(0)


def _figures():
    yield "numbered heatmap", kernel_figs.grid_figure(RNG.normal(size=(7, 5)), title="t", kind="signed",
                                                       colorbar_title="c", **LAB)
    yield "large map (JPEG picture + colour bar)", kernel_figs.map_figure(RNG.uniform(0, 255, (300, 200)), kind="grey",
                                                                          title="t", colorbar_title="c", **LAB)
    yield "photo with a box", image_figs.picture(RNG.integers(0, 255, (40, 30, 3), dtype=np.uint8), title="p",
                                                 box=(2, 3, 5))
    yield "validated go.Figure, arrays in nested lists", go.Figure(
        [go.Scatter(x=np.arange(5), y=np.linspace(0, 1, 5), customdata=np.arange(10).reshape(5, 2)),
         go.Heatmap(z=RNG.normal(size=(3, 3)), text=[["a", "b", "c"]] * 3)], layout=dict(title="v"))
    yield "frames", fast_figure([dict(type="scatter", x=np.arange(3), y=np.arange(3.0))], dict(title=dict(text="f")),
                                frames=[dict(data=[dict(type="scatter", x=np.arange(3), y=np.arange(3.0) * k)],
                                             name=str(k)) for k in range(3)])
    yield "nan and ints", heatmap(np.array([[1, np.nan], [3, 4]]), numbers=True, **LAB)


@pytest.mark.parametrize("name,fig", list(_figures()), ids=lambda v: v if isinstance(v, str) else "")
def test_wire_dict_is_to_dict_without_the_copy(name, fig):
    before = pio.to_json(fig.to_dict(), validate=False)
    wired = wire_dict(fig)
    assert pio.to_json(wired, validate=False) == before
    # the figure is untouched: its arrays are still arrays, and it serialises as before
    assert isinstance(fig._data[0].get("x", fig._data[0].get("z", fig._data[0].get("source"))), (np.ndarray, str, list))
    assert pio.to_json(fig.to_dict(), validate=False) == before


def test_arrays_go_as_typed_arrays_and_stay_arrays_in_the_figure():
    fig = go.Figure([go.Scatter(x=np.arange(4), y=np.linspace(0, 1, 4), customdata=np.ones((4, 2)))])
    wired = wire_dict(fig)
    assert wired["data"][0]["y"]["dtype"] == "f8" and wired["data"][0]["customdata"]["shape"] == "4, 2"
    assert isinstance(fig._data[0]["y"], np.ndarray) and isinstance(fig._data[0]["customdata"], np.ndarray)


def test_png_data_uri_is_cached_by_content():
    a = RNG.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    b = a.copy()
    b[0, 0, 0] ^= 1  # one bit differs: another picture
    ua, ub = image_figs.png_data_uri(a), image_figs.png_data_uri(b)
    assert ua != ub
    assert image_figs.png_data_uri(a.copy()) is ua  # same pixels, another array: the cached URI
    for uri, arr in ((ua, a), (ub, b)):
        png = base64.b64decode(uri.split(",", 1)[1])
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), arr)
    grey = a[..., 0]
    assert image_figs.png_data_uri(grey) != ua  # the shape is part of the key


def test_fast_figure_carries_the_default_template_without_copying_it():
    data = [dict(type="heatmap", z=np.arange(6.0).reshape(2, 3), text=[["a", "b", "c"]] * 2)]
    layout = dict(title=dict(text="t"), height=300, xaxis=dict(title=dict(text="x")))
    fig = fast_figure(data, layout)
    plain = go.Figure(data=data, layout=layout, _validate=False)  # Plotly's own way: a copy of the template
    assert pio.templates.default == "streamlit"
    assert fig.to_dict() == plain.to_dict()  # the same figure, template included
    assert fig.to_dict()["layout"]["template"] == pio.templates["streamlit"].to_plotly_json()
    assert fast_figure(data, layout)._layout["template"] is fig._layout["template"]  # shared, not copied
    own = fast_figure(data, {**layout, "template": dict(layout=dict(font=dict(size=30)))})
    assert own.to_dict()["layout"]["template"] == {"layout": {"font": {"size": 30}}}


def test_fast_figure_is_plotlys_figure_without_the_copies():
    """Every trace and layout value arrives (the figure equals Plotly's own build) and stays usable through
    Plotly's API, which writes into the figure's own dicts."""
    z = RNG.normal(size=(4, 5))
    data = [dict(type="heatmap", z=z, text=[[f"{v:.1f}" for v in row] for row in z], colorbar=dict(thickness=12),
                 showscale=None),
            dict(type="scatter", x=[0, 1], y=[1, 0], mode="lines", line=dict(color="red"))]
    layout = dict(title=dict(text="t"), height=300, xaxis=dict(title=dict(text="x"), range=[0, 4]), width=None)
    fig = fast_figure([dict(d) for d in data], dict(layout))
    plain = go.Figure(data=[{k: v for k, v in d.items() if v is not None} for d in data],
                      layout={k: v for k, v in layout.items() if v is not None}, _validate=False)
    assert fig.to_dict() == plain.to_dict()
    assert fig.data[0].type == "heatmap" and fig.data[1].line.color == "red" and fig.layout.xaxis.range == (0, 4)
    fig.data[1].line.color = "blue"
    fig.layout.xaxis.title.text = "col"
    fig.data[0].update(x0=2)
    d = fig.to_dict()
    assert d["data"][1]["line"]["color"] == "blue" and d["layout"]["xaxis"]["title"]["text"] == "col"
    assert d["data"][0]["x0"] == 2 and "showscale" not in d["data"][0] and "width" not in d["layout"]


def test_fast_figure_never_writes_into_the_dicts_it_was_given():
    """A module constant passed as a nested value (the stepper's legend) must not change when the figure is
    changed through Plotly's API (presenter mode sets the legend's font)."""
    legend = dict(x=1.02, bgcolor="white")
    shapes = [dict(type="rect", x0=0, x1=1, y0=0, y1=1, line=dict(color="red"))]
    fig = fast_figure([dict(type="scatter", x=[0, 1], y=[0, 1], line=legend)],
                      dict(legend=legend, shapes=shapes))
    fig.layout.legend.font.size = 30
    fig.data[0].line.width = 9
    fig.layout.shapes[0].line.color = "blue"
    assert legend == dict(x=1.02, bgcolor="white") and shapes[0]["line"] == dict(color="red")
    assert fig.to_dict()["layout"]["legend"]["font"]["size"] == 30


@pytest.mark.parametrize("grid", [
    np.arange(400.0).reshape(20, 20) % 7 - 3,                                   # few values, negatives
    np.where(np.eye(30, dtype=bool), np.nan, np.arange(900.0).reshape(30, 30) % 256),  # greys with gaps
    RNG.normal(size=(20, 20)),                                                  # every value different
])
@pytest.mark.parametrize("spec", [None, ".0f", ".2f"])
def test_cell_texts_format_each_value_as_before(grid, spec):
    from explainer.figures.style import fmt, number, texts

    f = fmt if spec is None else (lambda v: number(v, spec))
    assert texts(grid, spec) == [[f(v) for v in row] for row in grid]


def test_a_mosaic_makes_no_hover_texts():
    from explainer.figures.train import gallery

    fig = gallery(RNG.integers(0, 255, (4, 28, 28)), ["a", "b", "c", "d"], cols=4)
    assert fig.data[0].text is None and fig.data[0].hoverinfo == "skip"


def test_a_large_photo_goes_as_jpeg_a_small_picture_as_exact_png():
    from explainer.data.images import sample

    photo = sample("astronaut")  # 512×512 RGB: its PNG is ~700 kB
    uri = image_figs.photo_data_uri(photo)
    assert uri.startswith("data:image/jpeg;base64,") and len(uri) * 3 // 4 <= image_figs.PNG_MAX_BYTES
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))), dtype=float)
    assert back.shape == photo.shape and np.abs(back - photo).mean() < 4  # the same photo, to the eye
    small = sample("checkerboard")
    assert image_figs.photo_data_uri(small) == image_figs.png_data_uri(small)  # exact pixels
    assert image_figs.picture(photo)._data[0]["source"] == uri


def test_fast_figure_keeps_numbered_subplots_reachable():
    """A second axis (xaxis2) is declared to Plotly's Layout when it is built; the figure must still know it."""
    fig = fast_figure([dict(type="heatmap", z=np.ones((2, 2)), xaxis="x2", yaxis="y2")],
                      dict(xaxis2=dict(domain=[0.5, 1], title=dict(text="b")), yaxis2=dict(anchor="x2")))
    assert fig.layout.xaxis2.title.text == "b" and fig.layout["yaxis2"].anchor == "x2"
    fig.layout.xaxis2.title.text = "c"
    assert fig.to_dict()["layout"]["xaxis2"] == {"domain": [0.5, 1], "title": {"text": "c"}}


def test_presenter_mode_sets_fonts_on_an_axis_whose_title_was_removed():
    """The Stride page's compact channel grids set ``xaxis.title = None``; presenter mode then sets every axis
    title's font (it raised "argument of type 'NoneType' is not iterable": a click on the tutorial preset in
    presenter mode, found by bench/clicks.py)."""
    from explainer.figures.style import PRESENTER_FONT_PX, for_presenter

    fig = fast_figure([dict(type="heatmap", z=np.ones((3, 3)))],
                      dict(xaxis=dict(title=None, showgrid=False), yaxis=dict(title=dict(text="row"))))
    out = for_presenter(fig).to_dict()["layout"]
    assert out["xaxis"]["title"]["font"]["size"] == PRESENTER_FONT_PX and out["xaxis"]["showgrid"] is False
    assert out["yaxis"]["title"] == {"text": "row", "font": {"size": PRESENTER_FONT_PX}}
