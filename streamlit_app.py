"""Convolution Explainer — entry point: navigation, shared sidebar, home page.

Run with ``streamlit run streamlit_app.py``.
"""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import gc
import json
import os
import threading
from pathlib import Path

import streamlit as st

from explainer.i18n import LANGUAGES
from ui.boot import warm_in_background
from ui.jobs import keep_alive
from ui.nav import available_lessons, chosen_dataset, title_key
from ui.questions import default_on as predict_default
from ui.questions import sync_tally
from ui.shell import _KEPT as KEPT, lang, page_entered, presenter, t, widget
from ui.tables.app import TABLE as APP

ROOT = Path(__file__).parent
HTML_LANG = {"en": "en", "zh": "zh-Hans"}


def _css_text(text: str) -> str:
    """Catalogue text as a CSS string (our own words: quotes and backslashes escaped, one line)."""
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


# file uploaders whose limit is not limits.UPLOAD_BYTES (each passes it as max_upload_size too): its size line
UPLOADER_LIMITS = {"tr_own_zip": "OWN_ZIP_BYTES"}


def _own_limits() -> dict[str, str]:
    """The size line of each uploader in UPLOADER_LIMITS, as CSS strings."""
    from explainer import limits

    return {key: _css_text(t("common.uploader_limit", mb=limits.mb(getattr(limits, name))))
            for key, name in UPLOADER_LIMITS.items()}


def uploader_words() -> None:
    """Streamlit's file uploader writes its button ("Upload") and size line ("20MB per file") in English whatever
    the app's language, with no setting for either. Their text is swapped for the catalogue's (the limit from
    explainer.limits: UPLOAD_BYTES, or an uploader's own in UPLOADER_LIMITS, by its key's st-key-… class): the original
    is hidden and the words come as CSS generated content, which the accessibility tree reads as well."""
    from explainer import limits

    button, limit = _css_text(t("common.uploader_button")), _css_text(t("common.uploader_limit",
                                                                        mb=limits.mb(limits.UPLOAD_BYTES)))
    st.html(f"""<style>
      [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{ display: none; }}
      [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after {{ content: {button}; }}
      [data-testid="stFileUploaderDropzoneInstructions"] > div > span {{ display: none; }}
      [data-testid="stFileUploaderDropzoneInstructions"] > div::after {{ content: {limit}; }}
      {"".join(f'.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] > div::after {{ content: {size}; }}'
               for key, size in _own_limits().items())}
    </style>""")
    # generated content is no accessible name for every reader (axe finds none): the button gets it as aria-label
    label = json.dumps(" ".join(t("common.uploader_button").split()))
    st.html(f"""<script>(function () {{
      window.__ceUploadLabel = {label};
      const name = () => document.querySelectorAll('[data-testid="stFileUploaderDropzone"] button').forEach((b) => {{
        if (b.getAttribute("aria-label") !== window.__ceUploadLabel) b.setAttribute("aria-label", window.__ceUploadLabel);
      }});
      name();
      if (!window.__ceUploadWatch) {{
        window.__ceUploadWatch = new MutationObserver(name);
        window.__ceUploadWatch.observe(document.body, {{childList: true, subtree: true}});
      }}
    }})();</script>""", unsafe_allow_javascript=True)

with st.sidebar:
    widget(st.selectbox, "Language / 语言", APP["lang"], format_func=LANGUAGES.get)
    widget(st.toggle, t("common.presenter"), APP["presenter"], help=t("common.presenter_help"))
    widget(st.toggle, t("questions.predict_toggle"), APP["predict"], default=predict_default(),
           help=t("questions.predict_toggle_help"))
    keep_alive()  # heartbeats of this session's trainings, whichever page is open

# "Train on Fashion-MNIST" when that is the data set chosen on Train (ui.nav.DATASET_TITLES)
dataset = chosen_dataset(st.session_state, st.session_state.get(KEPT, {}), st.query_params)
pages = [
    # the default page is served at "/" but still reserves its url_path: "index", so "/home" can lead to it
    st.Page(ROOT / path, title=t(title_key(key, dataset)), icon=icon, url_path="index" if url == "home" else url,
            default=(url == "home"))
    for path, key, icon, url in available_lessons()
]
# The home page is served at "/"; "/home" (an old link, or a typed URL) leads there too instead of
# Streamlit's English "Page not found".
home = next((p for p, lesson in zip(pages, available_lessons()) if lesson[3] == "home"), None)
if home is not None:
    pages.append(st.Page(lambda: st.switch_page(home), title=t("nav.home"), url_path="home", visibility="hidden"))
current = st.navigation(pages)
page_entered(current.url_path)  # the URL history (ui.shell.from_outside) is per page
sync_tally()  # the learner's tally of predictions (ui/questions.py): a link's ?qt= wins, then it stays in the URL
# A title per lesson (the browser tab, history and a screen reader's first words), in the learner's language.
app_title = t("home.title")
st.set_page_config(
    page_title=app_title if current.url_path in ("", "index", "home") else f"{current.title} · {app_title}",
    page_icon="🔍",
    layout="wide" if presenter() else "centered",
)
with st.sidebar:
    # <html lang> follows the language, so screen readers speak Chinese as Chinese (Streamlit has no setting).
    st.html(f"<script>document.documentElement.lang = {HTML_LANG[lang()]!r};</script>", unsafe_allow_javascript=True)
    # Targets of at least 24×24 px (WCAG 2.2, 2.5.8): Streamlit's help icons are 16×16. A tab row wraps on a
    # narrow screen instead of hiding its last tabs behind a scroll arrow.
    st.html("""<style>
      [data-testid="stTooltipHoverTarget"] { min-width: 24px; min-height: 24px; display: inline-flex;
                                             align-items: center; justify-content: center; }
      [role="tablist"] { flex-wrap: wrap; row-gap: 0.25rem; }
    </style>""")
    uploader_words()
    if presenter():
        # Presenter mode: everything readable from the back of a room — text, widget labels, tabs, tables. Streamlit
        # sizes its small texts (captions, help, slider ends, metric labels, code) in rem: a 22 px root puts its
        # smallest (0.75rem) at 16.5 px; the reading sizes are set in px so they don't grow with it
        # (tests/browser/test_presenter.py measures every text of every lesson at 1920 px).
        st.html("""<style>
          html { font-size: 22px !important; }
          .stApp, .stMarkdown p, .stMarkdown li, label, .stCaption, [data-testid="stCaptionContainer"] p,
          .stApp [data-testid="stMarkdownContainer"] p, [data-testid="stExpander"] summary p,
          [data-testid="stTable"] td, [data-testid="stTable"] th { font-size: 21px !important; }
          .stApp code { font-size: 0.85em !important; }
          .stApp .katex { font-size: 1.5em !important; }
          h1 { font-size: 48px !important; } h2 { font-size: 37px !important; } h3 { font-size: 29px !important; }
        </style>""")
current.run()


def _import_torch() -> None:
    # torch.optim's first optimizer imports the compiler stack (~1.5 s on two cores) and every lesson's script is
    # compiled: paid here, not on a page (ui.boot.warm_in_background)
    warm_in_background()
    _freeze_imports()


def _freeze_imports() -> None:
    """Move the objects alive now (modules, classes, functions of NumPy, SciPy, Plotly, PyTorch, Streamlit:
    ~250k) out of the cyclic garbage collector's reach, once per server. A full collection then walks only
    what sessions created since (ms instead of ~0.2 s). They are still freed by reference counting; only
    cycles among them would stay, and the one ``gc.collect()`` before the freeze clears those that exist now.
    ``EXPLAINER_GC_FREEZE=0`` turns it off (bench/classroom.py --compare gc measures with and without)."""
    if os.environ.get("EXPLAINER_GC_FREEZE", "1") != "0":
        gc.collect()
        gc.freeze()


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Thread:
    """Once per server, after the first page has been sent: warm up in the background (PyTorch's optimizers, every
    lesson compiled), so that no learner's click waits for it."""
    thread = threading.Thread(target=_import_torch, name="warm-up", daemon=True)
    thread.start()
    return thread


_warm_up()
