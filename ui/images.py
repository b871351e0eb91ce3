"""The image picker every page shares: samples, an MNIST digit, or an upload."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explainer import limits
from explainer.data import images, mnist
from explainer.errors import UserError
from ui.shell import labels, literal, t, t_error, widget
from ui.state import Param
from ui.tables.shared import picker_params, region_params


@dataclass
class PickedImage:
    array: np.ndarray  # uint8, (H, W) grey or (H, W, 3) RGB
    name: str
    is_rgb: bool
    label: int | None = None  # the digit, for MNIST images


def mnist_test_set():
    """``(x_test, y_test)`` or ``(None, message)`` where MNIST is not available."""
    try:
        _, _, x_test, y_test = mnist.load_mnist(download=False)
    except UserError as exc:
        return None, t_error(exc)
    return x_test, y_test


def digit(index: int) -> tuple[np.ndarray, int | None, str | None]:
    """MNIST test digit ``index`` → (image, label, None); without MNIST a drawn digit and a message."""
    x_test, y_test = mnist_test_set()
    if x_test is None or len(x_test) == 0:
        return images.draw_digit(index % 10), index % 10, y_test if x_test is None else None
    index = int(index) % len(x_test)
    return x_test[index], int(y_test[index]), None


def image_picker(prefix: str, *, default: str = "camera", allow_upload: bool = True,
                 allow_mnist: bool = True, samples=None) -> PickedImage:
    """Widgets to choose an image; returns the chosen one (the last good one after a bad upload).

    Keys: ``{prefix}_src`` (source), ``{prefix}_digit`` (MNIST test index), ``{prefix}_upload``.
    """
    params = picker_params(prefix, default, allow_upload, allow_mnist, samples)
    src = widget(st.selectbox, t("picker.source"), params["src"], format_func=labels("picker.src_"))
    last_key = f"_{prefix}_last_image"
    if src == "mnist":
        index = widget(st.number_input, t("picker.digit"), params["digit"], help=t("picker.digit_help"))
        arr, label, problem = digit(index)
        if problem:
            st.info(t("picker.no_mnist", detail=problem))
        picked = PickedImage(arr, t("picker.mnist_name", index=index, label=label), False, label)
    elif src == "upload":
        upload = st.file_uploader(t("picker.upload"), key=f"{prefix}_upload",
                                  max_upload_size=limits.mb(limits.UPLOAD_BYTES), help=t("picker.upload_help",
                                  side=images.MAX_SIDE, mb=limits.mb(limits.UPLOAD_BYTES),
                                  mp=limits.mp(limits.UPLOAD_PIXELS), mp_deep=limits.mp(limits.UPLOAD_PIXELS_DEEP)))
        picked = st.session_state.get(f"_{prefix}_uploaded")
        if upload is not None:
            signature = (upload.name, upload.size, getattr(upload, "file_id", None))
            if st.session_state.get(f"_{prefix}_upload_sig") != signature:
                st.session_state[f"_{prefix}_upload_sig"] = signature
                try:
                    arr, info = images.decode_upload(upload.getvalue())
                except UserError as exc:
                    st.session_state[f"_{prefix}_upload_error"] = t_error(exc)
                    if exc.key == "errors.upload_busy":  # the server's decodes were all busy: the next rerun tries again
                        st.session_state.pop(f"_{prefix}_upload_sig", None)
                else:
                    st.session_state.pop(f"_{prefix}_upload_error", None)
                    picked = PickedImage(arr, upload.name, arr.ndim == 3)
                    st.session_state[f"_{prefix}_uploaded"] = picked
                    st.session_state[f"_{prefix}_upload_info"] = info
            if st.session_state.get(f"_{prefix}_upload_error"):
                st.error(st.session_state[f"_{prefix}_upload_error"])
            info = st.session_state.get(f"_{prefix}_upload_info")
            if info and picked is not None and not st.session_state.get(f"_{prefix}_upload_error"):
                st.caption(t("picker.upload_info", fmt=literal(info["format"]), mode=literal(info["mode"]),
                             w=info["size"][0], h=info["size"][1],
                             shape="×".join(map(str, info["shape"]))))
                if info["downscaled"]:
                    st.caption(t("picker.downscaled", side=images.MAX_SIDE))
        if picked is None:
            picked = st.session_state.get(last_key)
            if picked is None:
                arr = images.sample(default)
                picked = PickedImage(arr, t(f"picker.src_{default}"), arr.ndim == 3)
            st.info(t("picker.upload_waiting"))
    else:
        arr = images.sample(src)
        picked = PickedImage(arr, t(f"picker.src_{src}"), arr.ndim == 3)
    st.session_state[last_key] = picked
    return picked


def image_region(page: str, key_prefix: str, *, min_size: int = 3, max_size: int = 12, default_size: int = 8):
    """A small square region of a chosen image, in grey, for stepping through by hand.

    Keys: the picker's (``{key_prefix}_img``), ``{key_prefix}_crop``, ``{key_prefix}_top``, ``{key_prefix}_left``;
    labels: ``{page}.crop``, ``{page}.crop_top``, ``{page}.crop_left``. The region starts on the image's most
    detailed block. Returns ``(region float (n, n), picked, top, left)``.
    """
    params = region_params(key_prefix, default_size)
    picked = image_picker(f"{key_prefix}_img", default="camera")
    img = images.to_grey(picked.array)
    h, w = img.shape
    lo, hi = min(min_size, h, w), min(max_size, h, w)
    size = int_slider(t(f"{page}.crop"), params["crop"], min(default_size, hi), lo, hi)
    top0, left0 = _cached_patch(img, size)
    c1, c2 = st.columns(2)
    with c1:
        top = int_slider(t(f"{page}.crop_top"), params["top"], top0, 0, h - size)
    with c2:
        left = int_slider(t(f"{page}.crop_left"), params["left"], left0, 0, w - size)
    return img[top:top + size, left:left + size].astype(float), picked, top, left


def int_slider(label: str, param: Param, default: int, lo: int, hi: int) -> int:
    """A slider for the declared int setting ``param``, over ``lo`` … ``hi`` on this run (within the declared
    range); no slider at all when the range has a single value (a tiny image)."""
    if hi <= lo:
        return lo
    return widget(st.slider, label, param, default=min(max(default, lo), hi), min_value=lo, max_value=hi)


@st.cache_data(max_entries=32, show_spinner=False)
def _cached_patch(img: np.ndarray, size: int) -> tuple[int, int]:
    return images.colourful_patch(img, size)
