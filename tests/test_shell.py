"""URL-synced widgets: restore from a shared link, fall back on a bad one, keep across page switches."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

SCRIPT = """
import streamlit as st
from ui.shell import widget, labels, restore, publish
from ui.state import Param, Table
T = Table("test", [Param("t_k", "int", 3, lo=1, hi=7), Param("t_mode", "choice", "max", options=("max", "avg")),
                   Param("t_flag", "bool", False), Param("t_x", "float", 0.5, lo=0.0, hi=1.0)])
if st.session_state.get("hide"):  # another page is showing
    st.stop()
k = widget(st.slider, "k", T["t_k"], max_value=st.session_state.get("k_max"))
m = widget(st.selectbox, "mode", T["t_mode"], format_func=labels("picker.src_"))
flag = widget(st.toggle, "flag", T["t_flag"])
x = widget(st.number_input, "x", T["t_x"])
grid = restore("t_grid", "1,0;0,1")
publish("t_grid", grid)
st.write(f"k={k} mode={m} flag={flag} x={x} grid={grid}")
"""


def _app(**params):
    at = AppTest.from_string(SCRIPT, default_timeout=20)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _text(at):
    return at.markdown[-1].value


def test_defaults_written_to_url():
    at = _app()
    assert not at.exception
    assert _text(at) == "k=3 mode=max flag=False x=0.5 grid=1,0;0,1"
    assert at.query_params["t_k"] == "3" and at.query_params["t_mode"] == "max"
    assert at.query_params["t_flag"] == "0" and at.query_params["t_grid"] == "1,0;0,1"


def test_shared_link_restores_view():
    at = _app(t_k="6", t_mode="avg", t_flag="1", t_x="0.25", t_grid="0,1;1,0")
    assert _text(at) == "k=6 mode=avg flag=True x=0.25 grid=0,1;1,0"
    assert len(at.toast) == 0


def test_malformed_or_stale_params_fall_back_with_notice():
    at = _app(t_k="99", t_mode="median", t_flag="maybe", t_x="nan")
    assert not at.exception
    assert _text(at).startswith("k=3 mode=max flag=False x=0.5")
    assert len(at.toast) == 4


def test_widget_change_updates_url():
    at = _app()
    at.slider(key="t_k").set_value(5).run()
    assert at.query_params["t_k"] == "5"
    assert _text(at).startswith("k=5")


def test_value_survives_page_switch():
    """Widget state is dropped when a page isn't rendered; the kept value brings it back."""
    at = _app()
    at.slider(key="t_k").set_value(2).run()
    at.session_state["hide"] = True  # the user goes to another page: the widget isn't rendered
    at.run()
    at.query_params.clear()  # navigating back gives a URL without our parameters
    at.session_state["hide"] = False
    at.run()
    assert _text(at).startswith("k=2")


def test_narrower_bound_for_this_run_falls_back_to_default():
    """A page may narrow the declared range for a run (a smaller image): a kept value beyond it goes back to
    the default, and a URL value beyond it is refused even though the declaration allows it."""
    at = _app()
    at.slider(key="t_k").set_value(6).run()
    at.session_state["k_max"] = 4
    at.run()
    assert _text(at).startswith("k=3") and at.query_params["t_k"] == "3"
    at = AppTest.from_string(SCRIPT, default_timeout=20)
    at.session_state["k_max"] = 4
    at.query_params["t_k"] = "6"
    at.run()
    assert _text(at).startswith("k=3") and len(at.toast) == 1


def test_a_bound_beyond_the_declaration_is_clamped_to_it():
    at = AppTest.from_string(SCRIPT, default_timeout=20)
    at.session_state["k_max"] = 50
    at.run()
    assert not at.exception and at.slider(key="t_k").max == 7
