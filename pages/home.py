"""Home: what the app teaches, the path through it, and a live edge-detector demo on the first screen."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import numpy as np
import streamlit as st

from explainer.maths.conv import conv2d
from explainer.figures import heatmap
from explainer.figures.images import picture
from explainer.data.images import sample, to_grey
from explainer.maths.kernels import kernel as named_kernel
from ui.charts import chart, figure
from ui.nav import available_lessons
from ui.questions import OUTCOMES, tally
from ui.shell import labels, lesson_link, note, t, tn, widget
from ui.tables.home import TABLE as HOME



@st.cache_data(max_entries=64, show_spinner=False)
def _demo(image_name: str, kernel_name: str):
    img = to_grey(sample(image_name))
    k = named_kernel(kernel_name)
    out = conv2d(img, k.weights) / k.divisor
    return img, k.weights / k.divisor, out


st.title(t("home.title"))
st.markdown(t("home.tagline"))

# ---- live mini-demo
st.header(t("home.demo_header"))
c1, c2 = st.columns(2)
with c1:
    kname = widget(st.selectbox, t("home.demo_kernel"), HOME["home_kernel"], format_func=labels("home.k_"))
with c2:
    iname = widget(st.selectbox, t("picker.source"), HOME["home_image"], format_func=labels("picker.src_"))
img, weights, out = _demo(iname, kname)
shown = np.clip(out, 0, 255).astype(np.uint8)
left, mid, right = st.columns([5, 3, 5])
with left:
    chart(figure(picture, img, title=t("home.demo_input"), height=300), key="home_in")
with mid:
    chart(figure(heatmap, weights, colorscale="RdBu", zmid=0, showscale=False, title=t("home.demo_kernel_title"),
                            x_title=t("common.column"), y_title=t("common.row"), value_label=t("common.value"),
                            height=240), key="home_k")
with right:
    chart(figure(picture, shown, title=t("home.demo_output"), height=300), key="home_out")
st.markdown(t("home.demo_explain", what=t(f"home.what_{kname}"), lo=f"{out.min():.0f}", hi=f"{out.max():.0f}",
              clipped=f"{100 * np.mean((out < 0) | (out > 255)):.0f}"))
note(t("home.demo_note"))

# ---- the path through the app
st.header(t("home.path_header"))
for path, key, icon, _ in available_lessons()[1:]:
    lesson_link(path, t(key), icon)
    st.caption(t(f"home.about_{key.split('.')[1]}"))

# ---- the learner's predictions so far (this browser session only)
st.header(t("questions.home_header"))
st.caption(t("questions.home_intro"))
answered = tally()
if not any(answered.values()):
    st.markdown(t("questions.home_none"))
for path, key, icon, lesson in available_lessons()[1:]:
    outcomes = list(answered.get(lesson, {}).values())
    if outcomes:
        counts = {o: outcomes.count(o) for o in OUTCOMES}
        st.markdown(t("questions.home_lesson", lesson=f"{icon} {t(key)}",
                      tally=tn("questions.tally", len(outcomes), **counts)))

st.header(t("home.how_header"))
st.markdown(t("home.how"))
