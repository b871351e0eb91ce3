"""Convolution Explainer — entry point: navigation, shared sidebar, home page.

Run with ``streamlit run streamlit_app.py``.
"""
from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from explainer.i18n import LANGUAGES
from ui.nav import available_lessons
from ui.shell import presenter, t, widget

ROOT = Path(__file__).parent

with st.sidebar:
    widget(st.selectbox, "Language / 语言", key="lang", default="en",
           options=list(LANGUAGES), format_func=LANGUAGES.get)
    widget(st.toggle, t("common.presenter"), key="presenter", default=False,
           help=t("common.presenter_help"))

st.set_page_config(
    page_title=t("home.title"),
    page_icon="🔍",
    layout="wide" if presenter() else "centered",
)

if presenter():
    st.html("""<style>
      .stApp, .stMarkdown p, .stMarkdown li, label, .stCaption { font-size: 1.3rem !important; }
      h1 { font-size: 3rem !important; } h2 { font-size: 2.3rem !important; } h3 { font-size: 1.8rem !important; }
    </style>""")

pages = [
    # the default page is served at "/" but still reserves its url_path: "index", so "/home" can lead to it
    st.Page(ROOT / path, title=t(key), icon=icon, url_path="index" if url == "home" else url, default=(url == "home"))
    for path, key, icon, url in available_lessons()
]
# The home page is served at "/"; "/home" (an old link, or a typed URL) leads there too instead of
# Streamlit's English "Page not found".
home = next((p for p, lesson in zip(pages, available_lessons()) if lesson[3] == "home"), None)
if home is not None:
    pages.append(st.Page(lambda: st.switch_page(home), title=t("nav.home"), url_path="home", visibility="hidden"))
st.navigation(pages).run()


def _import_torch() -> None:
    import torch

    # torch.optim's first optimizer imports the compiler stack (~1.5 s on two cores): pay it here, not on a page
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Thread:
    """Once per server, after the first page has been sent: import PyTorch in the background, so that the
    Optimizers and Train pages open without the import's wait."""
    thread = threading.Thread(target=_import_torch, name="warm-up", daemon=True)
    thread.start()
    return thread


_warm_up()
