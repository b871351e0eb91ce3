"""Figures for "Images are numbers": a digit as a grid, its 784-vector, the one-hot label, RGB channels."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import base64
import collections
import hashlib
import io
import threading

from PIL import Image

from explainer.figures import fast_figure, heatmap
from explainer.figures.style import BLUES, PALETTE, margins

CHANNEL_SCALES = (
    [[0, "rgb(0,0,0)"], [1, "rgb(255,0,0)"]],
    [[0, "rgb(0,0,0)"], [1, "rgb(0,255,0)"]],
    [[0, "rgb(0,0,0)"], [1, "rgb(0,0,255)"]],
)


def digit_grid(img: np.ndarray, *, numbers: bool, x_title: str, y_title: str, value_label: str,
               colorbar_title: str, height: int = 640) -> go.Figure:
    """The 28×28 digit with its 0–255 grey level in every cell (0 = black, 255 = white)."""
    fig = heatmap(img, colorscale="Greys", zmin=0, zmax=255, numbers=numbers,
                  number_format=".0f", x_title=x_title, y_title=y_title, value_label=value_label,
                  colorbar_title=colorbar_title, height=height)
    if numbers:
        fig.data[0].textfont = dict(size=8)
    return fig


def flat_vector(vec: np.ndarray, *, index_title: str, value_title: str, highlight_row: int | None = None,
                width: int = 28, height: int = 260) -> go.Figure:
    """The flattened image as a bar per entry; entries of one image row share a colour band."""
    vec = np.asarray(vec, dtype=float)
    idx = np.arange(vec.size)
    band = (idx // width) % 2  # alternate shades per image row; the highlighted row in red
    color = np.where(band == 0, 0.0, 0.5)
    if highlight_row is not None:
        color = np.where(idx // width == highlight_row, 1.0, color)
    bar = dict(type="bar", x=idx, y=vec, marker=dict(color=color, cmin=0, cmax=1, line=dict(width=0),
                                                    colorscale=[[0, PALETTE[0]], [0.5, PALETTE[5]], [1, PALETTE[1]]]),
               customdata=np.stack([idx // width, idx % width], axis=1),
               hovertemplate=(f"{index_title} %{{x}} (%{{customdata[0]}}, %{{customdata[1]}})"
                              f"<br>{value_title} = %{{y:.3f}}<extra></extra>"))
    layout = dict(height=height, margin=margins(left=40), bargap=0,
                  xaxis=dict(title=dict(text=index_title), range=[-0.5, vec.size - 0.5]),
                  yaxis=dict(title=dict(text=value_title)))
    return fast_figure([bar], layout)


def one_hot(label: int, *, class_title: str, value_title: str) -> go.Figure:
    vec = np.zeros((1, 10))
    vec[0, label] = 1
    fig = heatmap(vec, colorscale=BLUES, zmin=0, zmax=1, numbers=True, number_format=".0f",
                  x_title=class_title, y_title="", value_label=value_title, showscale=False, height=140)
    fig.layout.yaxis.showticklabels = False
    fig.layout.xaxis.tickvals = list(range(10))
    return fig


_PNG_CACHE: "collections.OrderedDict[tuple, str]" = collections.OrderedDict()
_PNG_CACHE_CHARS = 32 * 2**20  # the cache's URIs together stay under this many characters
_PNG_LOCK = threading.Lock()


def png_data_uri(img: np.ndarray) -> str:
    """A uint8 grey or RGB array as a PNG ``data:`` URI (small and fast to send to the browser).

    Encoded once per picture and process: a rerun that shows the same photo again (a box moved over it,
    another session on the same sample) hashes its pixels (~1 ms for 512²×3) instead of encoding them (~15 ms)."""
    arr = np.ascontiguousarray(img, dtype=np.uint8)
    key = (arr.shape, hashlib.blake2b(arr.data, digest_size=16).digest())
    with _PNG_LOCK:
        uri = _PNG_CACHE.get(key)
        if uri is not None:
            _PNG_CACHE.move_to_end(key)
            return uri
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=1)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    with _PNG_LOCK:
        _PNG_CACHE[key] = uri
        while sum(map(len, _PNG_CACHE.values())) > _PNG_CACHE_CHARS and len(_PNG_CACHE) > 1:
            _PNG_CACHE.popitem(last=False)
    return uri


PNG_MAX_BYTES = 96 * 1024  # a picture whose PNG is larger goes as a JPEG (a 512² photo: ~700 → ~90 kB per rerun)


def photo_data_uri(img: np.ndarray) -> str:
    """``png_data_uri`` for small or flat pictures (exact pixels); for a photo whose PNG exceeds
    ``PNG_MAX_BYTES``, a JPEG (quality 92, no chroma subsampling), sent with every rerun that shows it.
    Cached by content like ``png_data_uri``."""
    uri = png_data_uri(img)
    if len(uri) * 3 // 4 <= PNG_MAX_BYTES:
        return uri
    arr = np.ascontiguousarray(img, dtype=np.uint8)
    key = ("jpeg", arr.shape, hashlib.blake2b(arr.data, digest_size=16).digest())
    with _PNG_LOCK:
        cached = _PNG_CACHE.get(key)
    if cached is None:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=92, subsampling=0)
        cached = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
        if len(cached) >= len(uri):
            cached = uri
        with _PNG_LOCK:
            _PNG_CACHE[key] = cached
    return cached


def picture(img: np.ndarray, *, title: str = "", height: int = 360,
            box: tuple[int, int, int] | None = None) -> go.Figure:
    """A photo (uint8 grey or RGB) at its true aspect, optionally with a (top, left, size) box in yellow."""
    h, w = img.shape[:2]
    image = dict(type="image", source=photo_data_uri(img), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip")
    shapes = []
    if box is not None:
        top, left, size = box
        shapes.append(dict(type="rect", x0=left - 0.5, y0=top - 0.5, x1=left + size - 0.5, y1=top + size - 0.5,
                           line=dict(color="yellow", width=3)))
    layout = dict(margin=dict(l=0, r=0, t=30 if title else 0, b=0), title=dict(text=title) if title else None,
                  height=height, shapes=shapes,
                  xaxis=dict(showticklabels=False, range=[-0.5, w - 0.5], showgrid=False, zeroline=False),
                  yaxis=dict(showticklabels=False, range=[h - 0.5, -0.5], scaleanchor="x", showgrid=False,
                             zeroline=False))
    return fast_figure([image], layout)


def channel_grid(values: np.ndarray, channel: int, *, title: str, x_title: str, y_title: str,
                 value_label: str) -> go.Figure:
    """One colour channel of a crop, with its numbers, in that channel's colour."""
    fig = heatmap(values, colorscale=CHANNEL_SCALES[channel], zmin=0, zmax=255, numbers=True,
                  number_format=".0f", title=title, x_title=x_title, y_title=y_title,
                  value_label=value_label, showscale=False, height=300)
    fig.data[0].textfont = dict(color="white", size=11)
    return fig
