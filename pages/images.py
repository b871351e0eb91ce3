"""Lesson 1 — Images are numbers: a digit as 28×28 grey levels, flattened to 784, /255; RGB as 3 channels."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import numpy as np
import streamlit as st

from explainer.figures import images as figs
from explainer.data.images import LUMA, colourful_patch
from ui.charts import chart, figure
from ui.images import digit, image_picker, int_slider
from ui.questions import ask
from ui.shell import note, t, widget
from ui.tables.images import TABLE as IMAGES

st.title(t("images.title"))
st.markdown(t("images.intro"))

# ---- 1. a digit is a 28×28 grid of grey levels
st.header(t("images.digit_header"))
index = widget(st.number_input, t("picker.digit"), IMAGES["im_digit"], help=t("picker.digit_help"))
img, label, problem = digit(index)
if problem:
    st.info(t("picker.no_mnist", detail=problem))
show_numbers = widget(st.toggle, t("images.show_numbers"), IMAGES["im_numbers"])
st.markdown(t("images.digit_text", label=label, lo=int(img.min()), hi=int(img.max())))
chart(figure(figs.digit_grid, img, numbers=show_numbers, x_title=t("common.column"), y_title=t("common.row"),
                                value_label=t("images.grey_level"), colorbar_title=t("images.grey_level")),
                key="im_digit_fig", name=t("images.digit_header"))
note(t("images.digit_note"))

# ---- 2. flatten to 784 and normalise by /255
st.header(t("images.flat_header"))
vec = img.reshape(-1).astype(np.float64) / 255.0
row = widget(st.slider, t("images.highlight_row"), IMAGES["im_row"])
lit = np.flatnonzero(img[row]) if img[row].any() else [14]  # predict first: the row's first lit pixel
asked = (int(row), int(lit[0]))
flat_seen = ask("images.flat_index", {"row": asked[0], "col": asked[1], "width": img.shape[1]}, "im")
if flat_seen:
    st.markdown(t("images.flat_text", n=vec.size, row=row, start=row * 28, end=row * 28 + 27))
cells = ", ".join(f"{int(v)}→{v / 255:.3f}" for v in img[row][img[row] > 0][:6]) or "—"
norm_seen = ask("images.normalised", {"value": int(img[asked])}, "im")
if norm_seen:
    st.markdown(t("images.row_values", row=row, values=cells))
if flat_seen and norm_seen:  # predict first: the vector shows every index and every value /255
    chart(figure(figs.flat_vector, vec, index_title=t("images.index"), value_title=t("images.normalised"),
                 highlight_row=row), key="im_flat_fig", name=t("images.flat_header"))
else:
    st.info(t("questions.hidden_these"))
st.subheader(t("images.onehot_header"))
st.markdown(t("images.onehot_text", label=label, vector="[" + ", ".join("1" if i == label else "0" for i in range(10)) + "]"))
chart(figure(figs.one_hot, label, class_title=t("images.class"), value_title=t("common.value")), key="im_onehot_fig", name=t("images.onehot_header"))

# ---- 3. colour images are three grids: R, G, B
st.header(t("images.rgb_header"))
st.markdown(t("images.rgb_text"))
picked = image_picker("im", default="astronaut", allow_mnist=False)
photo = picked.array
h, w = photo.shape[:2]
size = min(8, h, w)
top0, left0 = st.cache_data(colourful_patch, show_spinner=False)(photo, size)
c1, c2 = st.columns(2)
with c1:
    top = int_slider(t("images.crop_top"), IMAGES["im_top"], top0, 0, h - size)
with c2:
    left = int_slider(t("images.crop_left"), IMAGES["im_left"], left0, 0, w - size)
chart(figure(figs.picture, photo, box=(top, left, size)), key="im_photo_fig", name=t("images.rgb_header"))
crop = photo[top:top + size, left:left + size]
if crop.ndim == 2:
    st.info(t("images.grey_only"))
    channels = [crop]
else:
    st.markdown(t("images.shape_text", h=h, w=w, c=photo.shape[2], n=h * w * photo.shape[2]))
    channels = [crop[..., c] for c in range(3)]
cols = st.columns(len(channels))
names = [t("images.red"), t("images.green"), t("images.blue")] if len(channels) == 3 else [t("images.grey")]
for c, (col, values, name) in enumerate(zip(cols, channels, names)):
    with col:
        chart(figure(figs.channel_grid, values, c if len(channels) == 3 else 0, title=name, x_title=t("common.column"),
                                          y_title=t("common.row"), value_label=t("images.intensity")),
                        key=f"im_channel_{c}")
if crop.ndim == 3:
    r, g, b = (int(v) for v in crop[0, 0])
    if ask("images.grey", {"rgb": [r, g, b]}, "im"):
        st.markdown(t("images.pixel_text", r=r, g=g, b=b, grey=round(float(np.dot(LUMA, (r, g, b))))))
note(t("images.rgb_note"))
