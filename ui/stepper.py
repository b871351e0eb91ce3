"""The step-through control shared by the Stride & padding and the Pooling pages.

``stepper(prefix, n_steps, render)`` draws first / previous / play-pause / next / last buttons, a
position slider and a speed control, and calls ``render(position)`` (1 … n_steps: how many output
cells are filled). Everything lives in one ``st.fragment``: while playing only the fragment reruns
(``run_every`` = 1 / speed), so the rest of the page doesn't flicker. The position is URL-synced
(``{prefix}_pos``); the playing flag is session state only.
"""
from __future__ import annotations

import time
from typing import Callable

import streamlit as st

from explainer.i18n import translate
from ui.shell import lang, t, widget

SPEEDS = (0.5, 1.0, 2.0, 4.0)  # steps per second


def _pos_key(prefix: str) -> str:
    return f"{prefix}_pos"


def _play_key(prefix: str) -> str:
    return f"_{prefix}_playing"


def _move(prefix: str, n_steps: int, to: int | None = None, by: int = 0) -> None:
    ss = st.session_state
    key = _pos_key(prefix)
    pos = ss.get(key, 1) if to is None else to
    ss[key] = max(1, min(n_steps, pos + by))
    ss[_play_key(prefix)] = False


def _toggle(prefix: str, n_steps: int) -> None:
    ss = st.session_state
    playing = not ss.get(_play_key(prefix), False)
    if playing and ss.get(_pos_key(prefix), 1) >= n_steps:
        ss[_pos_key(prefix)] = 1  # play again from the start
    ss[_play_key(prefix)] = playing
    ss[f"_{prefix}_last_tick"] = time.monotonic()
    ss[f"_{prefix}_app_rerun"] = True  # the timer is set when the page builds the fragment


def playing(prefix: str) -> bool:
    return bool(st.session_state.get(_play_key(prefix), False))


def stepper(prefix: str, n_steps: int, render: Callable[[int], None]) -> None:
    """The stepper for a walk of ``n_steps`` steps; ``render(position)`` draws the current view."""
    ss = st.session_state
    key = _pos_key(prefix)
    n_steps = max(1, int(n_steps))
    current = ss[key] if key in ss else ss.get("_kept_widget_values", {}).get(key, 1)
    current = current if isinstance(current, int) else 1
    ss[key] = max(1, min(n_steps, current))  # settings changed: keep the position where it still exists
    speed = widget(st.select_slider, t("stepper.speed"), key=f"{prefix}_speed", default=1.0, options=list(SPEEDS),
                   format_func=lambda v, code=lang(): translate("stepper.speed_value", code, v=v), help=t("stepper.speed_help"))
    interval = 1.0 / float(speed)
    run_every = interval if playing(prefix) else None

    @st.fragment(run_every=run_every, key=f"{prefix}_fragment")
    def view():
        if ss.pop(f"_{prefix}_app_rerun", False):
            st.rerun(scope="app")
        if playing(prefix):
            now = time.monotonic()
            if now - ss.get(f"_{prefix}_last_tick", 0.0) >= 0.8 * interval:
                ss[f"_{prefix}_last_tick"] = now
                if ss.get(key, 1) >= n_steps:
                    ss[_play_key(prefix)] = False
                    st.rerun(scope="app")  # stop the timer
                ss[key] = ss.get(key, 1) + 1
        cols = st.columns([1, 1, 1.4, 1, 1])
        cols[0].button(t("stepper.first"), key=f"{prefix}_first", icon=":material/first_page:",
                       on_click=_move, args=(prefix, n_steps, 1), width="stretch", help=t("stepper.first_help"))
        cols[1].button(t("stepper.prev"), key=f"{prefix}_prev", icon=":material/chevron_left:",
                       on_click=_move, args=(prefix, n_steps), kwargs={"by": -1}, width="stretch")
        is_playing = playing(prefix)
        cols[2].button(t("stepper.pause") if is_playing else t("stepper.play"), key=f"{prefix}_play",
                       icon=":material/pause:" if is_playing else ":material/play_arrow:", type="primary",
                       on_click=_toggle, args=(prefix, n_steps), width="stretch")
        cols[3].button(t("stepper.next"), key=f"{prefix}_next", icon=":material/chevron_right:",
                       on_click=_move, args=(prefix, n_steps), kwargs={"by": 1}, width="stretch")
        cols[4].button(t("stepper.last"), key=f"{prefix}_last", icon=":material/last_page:",
                       on_click=_move, args=(prefix, n_steps, n_steps), width="stretch", help=t("stepper.last_help"))
        if n_steps > 1:
            pos = widget(st.slider, t("stepper.position"), key=key, default=1, min_value=1, max_value=n_steps,
                         help=t("stepper.position_help"))
        else:
            pos = 1
            st.caption(t("stepper.single"))
        render(int(pos))

    view()
