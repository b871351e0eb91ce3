"""The navigation names the Train lesson after the data set chosen there (issue 23): "Train on Fashion-MNIST" /
"在 Fashion-MNIST 上训练", "Train on your own images", and "Train on MNIST" for MNIST or nothing chosen."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from explainer.data import datasets
from explainer.i18n import translate
from ui.nav import DATASET_SUFFIXES, chosen_dataset, title_key

ROOT = Path(__file__).resolve().parents[1]


def test_title_keys_follow_the_data_set():
    assert set(DATASET_SUFFIXES) == set(datasets.CHOICES) - {datasets.DEFAULT}  # every other choice has its name
    assert title_key("nav.train", "fashion") == "nav.train_fashion"
    assert title_key("nav.train", datasets.OWN) == "nav.train_own"
    assert title_key("nav.train", "mnist") == title_key("nav.train", None) == "nav.train"
    assert title_key("nav.train", "cifar") == "nav.train"  # a value no data set has: the plain name
    assert title_key("nav.network", "fashion") == "nav.network"  # other lessons keep theirs
    for lang in ("en", "zh"):
        names = {translate(title_key("nav.train", d), lang) for d in datasets.CHOICES}
        assert len(names) == 3, names
    assert "Fashion-MNIST" in translate("nav.train_fashion", "zh") and "MNIST" not in translate("nav.train_own", "zh")


def test_chosen_data_set_order():
    assert chosen_dataset({}, {}, {}) is None
    assert chosen_dataset({}, {"tr_dataset": "own"}, {}) == "own"  # kept from the last visit of Train
    assert chosen_dataset({}, {"tr_dataset": "own"}, {"tr_dataset": "fashion"}) == "fashion"  # a link wins over that
    assert chosen_dataset({"tr_dataset": "mnist"}, {"tr_dataset": "own"}, {"tr_dataset": "fashion"}) == "mnist"


def _train_title(at) -> str:
    return next(p["page_name"] for p in at._registered_pages.values() if p.get("url_pathname") == "train")


def test_the_sidebar_names_the_chosen_set(server_like_pages, lang="zh"):  # one language here: both are checked above
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    assert _train_title(at) == translate("nav.train", lang)
    at.session_state["_kept_widget_values"] = {"tr_dataset": "fashion"}  # as left on Train (ui.shell.widget keeps it)
    at.run()
    assert not at.exception
    assert _train_title(at) == translate("nav.train_fashion", lang)
    at.session_state["_kept_widget_values"] = {"tr_dataset": "mnist"}
    at.run()
    assert _train_title(at) == translate("nav.train", lang)
