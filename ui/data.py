"""The built-in data sets' arrays, once per server for every page and session.

Train, How kernels learn and Inside the network read the same MNIST and Fashion-MNIST arrays: one cached copy
(``st.cache_resource``, cleared with the app's caches) instead of one per page (each ~55 MB, each read and
unzipped again: ~0.3 s of a click on two cores). A page never downloads a set: when a copy is missing, the
registry's ``UserError`` says how to get it (the page shows it)."""
from __future__ import annotations

import streamlit as st

from explainer.data import datasets


@st.cache_resource(show_spinner=False)
def built_in(key: str = datasets.DEFAULT):
    """``(x_train, y_train, x_test, y_test)`` of the built-in set ``key`` (read them, don't change them)."""
    if key == "fashion":
        return datasets.load_fashion(download=False)
    return datasets.get(key).load_all()
