"""The step-through control shared by the Stride & padding and the Pooling pages.

``stepper(prefix, n_steps, render)`` draws a play/pause button and a speed control, then first /
back / next / last buttons and a position slider, and calls ``render(position)`` (1 … n_steps: how
many output cells are filled). The view lives in one ``st.fragment``: while playing only the
fragment reruns (``run_every`` = 1 / speed), so the rest of the page doesn't flicker. The position
(``{prefix}_pos``) is in the URL whenever the walk is not playing (a shared link opens at that
step; during play only the fragment reruns and the URL keeps the step where play began); the
playing flag is session state only; the speed is URL-synced.
"""
from __future__ import annotations

import time
from typing import Callable

import streamlit as st

from explainer.figures.stepper import labels_for
from explainer.i18n import translate
from ui.shell import _store, from_outside, lang, publish, restore, t, widget
from ui.tables.shared import SPEEDS, grid_params, stepper_params

TICK_SLACK = 0.8  # a timer rerun that comes a little early (< 20 % of the interval) still advances one step
clock = time.monotonic  # seconds; play advances by it (tests replace it with a clock they move by hand)


def figure_labels() -> dict:
    """The stepper figures' words in the current language (see ``explainer.figures.stepper.LABEL_KEYS``)."""
    return labels_for(lang())


def uncovered_warning(walk, page: str) -> None:
    """A warning naming the input rows and columns no window ever covers (text ``{page}.uncovered``)."""
    rows, cols = walk.uncovered()
    if rows or cols:
        st.warning(t(f"{page}.uncovered", rows=", ".join(map(str, rows)) or "—", cols=", ".join(map(str, cols)) or "—"))


def _pos_key(prefix: str) -> str:
    return f"{prefix}_pos"


def _play_key(prefix: str) -> str:
    return f"_{prefix}_playing"


def _move(prefix: str, n_steps: int, to: int | None = None, by: int = 0) -> None:
    ss = st.session_state
    key = _pos_key(prefix)
    pos = ss.get(key, 1) if to is None else to
    ss[key] = max(1, min(n_steps, pos + by))
    ss[f"_{prefix}_last_tick"] = clock()  # a manual move restarts the play timer's count
    ss.pop(f"_{prefix}_stale", None)  # moved by hand: nothing stale to guard against


def _set_playing(prefix: str, n_steps: int, value: bool) -> None:
    """Idempotent (Streamlit may deliver a click's callback again on the rerun that follows)."""
    ss = st.session_state
    if value and not ss.get(_play_key(prefix), False):
        # the positions the browser's slider may still report: where it was when play began, then every step shown
        ss[f"_{prefix}_stale"] = {ss.get(_pos_key(prefix), 1)}
        ss[f"_{prefix}_stale_start"] = ss.get(_pos_key(prefix), 1)
        if ss.get(_pos_key(prefix), 1) >= n_steps:
            ss[_pos_key(prefix)] = 1  # play again from the start
    if not value:
        ss[f"_{prefix}_paused_at"] = clock()
    ss[_play_key(prefix)] = value
    ss[f"_{prefix}_last_tick"] = clock()


STALE_WINDOW = 3.0  # seconds after a pause in which the browser may still report the step play began at


def _slider_moved(prefix: str) -> None:
    """The position slider reported a new value. Play moves the slider from the server, and the browser's own
    copy lags behind: while playing it reports steps it was shown earlier (seen in a real browser on a busy
    server: 2 while the server was at 3, then 3 at 4 …) or the step play began at; just after a pause, the step
    play began at; just after play ended by itself at the last step, any step shown during play (a fragment
    timer request still in flight carries the step before the last: CI saw a walk end on 8 of 9). Such a report
    keeps the step last shown. Anything else is a move by hand (after a pause a learner may step back at once:
    only the step play began at is held back, for ``STALE_WINDOW`` s; just after the end a learner steps back
    with the buttons, which always work).
    Callbacks run in no fixed order, so this doesn't rely on the pause's callback having run first."""
    ss = st.session_state
    key, shown, value = _pos_key(prefix), ss.get(f"_{prefix}_shown"), ss.get(_pos_key(prefix))
    seen = ss.get(f"_{prefix}_stale") or set()
    if playing(prefix):
        stale = value in seen
    else:
        just_paused = clock() - ss.get(f"_{prefix}_paused_at", -1e9) < STALE_WINDOW
        just_ended = clock() - ss.get(f"_{prefix}_ended_at", -1e9) < STALE_WINDOW
        stale = bool(seen) and ((just_paused and value == ss.get(f"_{prefix}_stale_start"))
                                or (just_ended and value in seen))
    if stale and shown is not None and value != shown:
        ss[key] = shown
    else:
        ss.pop(f"_{prefix}_stale", None)  # a move by hand


def playing(prefix: str) -> bool:
    return bool(st.session_state.get(_play_key(prefix), False))


def _settle_position(prefix: str, params: dict, n_steps: int, default: int) -> None:
    """The position in the session: this session's, a shared link's (not while playing), else ``default``; kept
    within the walk's ``n_steps``, and published to the URL while not playing."""
    ss = st.session_state
    key = _pos_key(prefix)
    current = ss[key] if key in ss else _store("_kept_widget_values").get(key, default)
    if not playing(prefix):  # a shared link names the step
        if from_outside(key, st.query_params.get(key)):  # not the browser's URL lagging behind
            current = restore(key, current, lambda r: max(1, min(n_steps, params["pos"].parse(r))))
    current = current if isinstance(current, int) and not isinstance(current, bool) else default
    clamped = max(1, min(n_steps, current))  # settings changed: keep the position where it still exists
    if ss.get(key) != clamped:  # only a real change is sent to the slider (an unchanged re-set races its own value)
        ss[key] = clamped
    if not playing(prefix):
        publish(key, ss[key])


def _tick(prefix: str, n_steps: int, interval: float) -> None:
    """While playing, a timer rerun of the view: one step on once ``interval`` has (nearly) passed; at the last
    step, stop playing and rerun the whole page (which clears the timer)."""
    ss = st.session_state
    key = _pos_key(prefix)
    if playing(prefix):
        now = clock()
        if now - ss.get(f"_{prefix}_last_tick", 0.0) >= TICK_SLACK * interval:
            ss[f"_{prefix}_last_tick"] = now
            if ss.get(key, 1) >= n_steps:
                ss[_play_key(prefix)] = False
                ss[f"_{prefix}_paused_at"] = now
                ss[f"_{prefix}_ended_at"] = now  # see _slider_moved
                st.rerun(scope="app")  # the end: stop the timer, show "Play" again
            ss[key] = ss.get(key, 1) + 1


def stepper(prefix: str, n_steps: int, render: Callable[[int], None], *, default: int = 1,
            speeds: tuple = SPEEDS, default_speed: float = 1.0, texts: dict | None = None) -> None:
    """The stepper for a walk of ``n_steps`` steps; ``render(position)`` draws the current view.

    ``default``: the position on a first visit (``-1``: the last step). ``texts`` overrides the
    catalogue texts of the ``stepper.*`` keys by name (``{"position_help": ...}``) for walks that
    are not an output filling in cell by cell.
    """
    ss = st.session_state
    params = stepper_params(prefix, speeds, default_speed)
    key = _pos_key(prefix)
    n_steps = max(1, int(n_steps))
    text = lambda name: (texts or {}).get(name) or t(f"stepper.{name}")  # noqa: E731
    default = n_steps if default < 0 else default
    _settle_position(prefix, params, n_steps, default)
    # Play / pause lives outside the fragment: its click reruns the whole page, which sets (or
    # clears) the fragment's timer. Everything that changes while playing lives inside.
    is_playing = playing(prefix)
    c_play, c_speed = st.columns([1, 2], vertical_alignment="bottom")
    c_play.button(text("pause") if is_playing else text("play"), key=f"{prefix}_play",
                  icon=":material/pause:" if is_playing else ":material/play_arrow:", type="primary",
                  on_click=_set_playing, args=(prefix, n_steps, not is_playing), width="stretch")
    with c_speed:
        fmt = (lambda v, s=texts["speed_value"]: s.format(v=v)) if texts and "speed_value" in texts else \
            (lambda v, code=lang(): translate("stepper.speed_value", code, v=v))
        speed = widget(st.select_slider, text("speed"), params["speed"], format_func=fmt, help=text("speed_help"))
    interval = 1.0 / float(speed)
    run_every = interval if is_playing else None

    @st.fragment(run_every=run_every, key=f"{prefix}_fragment")
    def view():
        _tick(prefix, n_steps, interval)
        cols = st.columns(4)
        at = max(1, min(n_steps, int(ss.get(key, 1))))  # at the first step nothing is before it, at the last nothing after
        cols[0].button(text("first"), key=f"{prefix}_first", icon=":material/first_page:", disabled=at <= 1,
                       on_click=_move, args=(prefix, n_steps, 1), width="stretch", help=text("first_help"))
        cols[1].button(text("prev"), key=f"{prefix}_prev", icon=":material/chevron_left:", disabled=at <= 1,
                       on_click=_move, args=(prefix, n_steps), kwargs={"by": -1}, width="stretch")
        cols[2].button(text("next"), key=f"{prefix}_next", icon=":material/chevron_right:", disabled=at >= n_steps,
                       on_click=_move, args=(prefix, n_steps), kwargs={"by": 1}, width="stretch")
        cols[3].button(text("last"), key=f"{prefix}_last", icon=":material/last_page:", disabled=at >= n_steps,
                       on_click=_move, args=(prefix, n_steps, n_steps), width="stretch", help=text("last_help"))
        if n_steps > 1:
            # published to the URL only while not playing (above and after render): during play,
            # fragment reruns move it faster than the browser's URL follows
            pos = widget(st.slider, text("position"), params["pos"], default=default, max_value=n_steps,
                         help=text("position_help"), url=False, on_change=_slider_moved, args=(prefix,))
        else:
            pos = 1
            st.caption(text("single"))
        ss[f"_{prefix}_shown"] = int(pos)  # what the page shows now (see _slider_moved)
        if playing(prefix) and isinstance(ss.get(f"_{prefix}_stale"), set):
            ss[f"_{prefix}_stale"].add(int(pos))
        if not playing(prefix):
            publish(key, int(pos))  # a step moved by hand: the shareable link follows
        render(int(pos))

    view()


@st.cache_data(max_entries=64, show_spinner=False)
def random_grid(shape: tuple, seed: int, low: int = 0, high: int = 10):
    """A reproducible grid of small whole numbers to step through by hand."""
    import numpy as np

    return np.random.default_rng(seed).integers(low, high, size=shape).astype(float)


def grid_controls(page: str, key_prefix: str, default_size: int):
    """Height, width and seed controls for a small random input grid; returns the grid.

    Texts come from ``{page}.height``, ``{page}.width``, ``{page}.seed`` and ``{page}.seed_help``;
    keys are ``{key_prefix}_h``, ``{key_prefix}_w`` and ``{key_prefix}_seed``.
    """
    params = grid_params(key_prefix, default_size)
    c1, c2, c3 = st.columns([2, 2, 1])
    with c1:
        h = widget(st.slider, t(f"{page}.height"), params["h"])
    with c2:
        w = widget(st.slider, t(f"{page}.width"), params["w"])
    with c3:
        seed = widget(st.number_input, t(f"{page}.seed"), params["seed"], help=t(f"{page}.seed_help"))
    return random_grid((h, w), seed)
