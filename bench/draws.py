"""Widget values drawn at random from the declared schema (``ui/tables``), for the load benches.

A simulated student on a page looks at the widgets the page drew on its last run (their protos, from the
deltas: kind, this run's range or options) and picks one; its value is drawn from the declared ``Param``
of that key — any value a learner could pick, not the presets:

- ``int``/``float``: uniform over the declared range, narrowed by this run's range (a slider's or number
  input's min/max); an open side reaches ±10× the default (at least ±10); ranges over three decades
  (learning rates) are drawn on a log scale half of the time; one draw in ten is an end of the range;
- ``bool``: either; ``choice``: any option the widget offers (each one declared); ``multi``: any subset
  (up to ``max_selections``; the empty one included);
- ``text``: valid samples for the key (``TEXT_SAMPLES``: the kernel presets, random kernels of every size up
  to the largest, and now and then text that doesn't parse, which the page must refuse without losing its
  view);
- ``int_range``/``float_range``: two ordered draws.

Buttons (not URL state) are pressed too, except those that start engine work (``NO_PRESS``), so a
student walks steppers, presets and resets as well. ``Draw.make`` fills the ``WidgetState`` the browser
would send for the widget's kind.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable

from streamlit.proto.WidgetStates_pb2 import WidgetState

from ui.state import Param
from ui.tables import all_tables

# buttons that start engine work or leave the page's ordinary clicks (trainings, landscapes, downloads, uploads)
NO_PRESS = ("tr_start", "tr_stop", "tr_clear", "tr_save", "tr_load", "tr_export", "bp_train", "op_landscape",
            "op_race_retry", "tr_draw_upload", "tr_open")
PRESS_SHARE = 0.2  # of a student's actions, this share presses a button (the rest change a declared setting)


def _kernel_texts() -> list[str]:
    from explainer.maths.kernels import MAX_SIZE, NAMES, format_kernel, kernel

    out = [format_kernel(kernel(n).weights) for n in NAMES]
    rng = random.Random(1)
    for size in range(1, MAX_SIZE + 1):
        for _ in range(2):
            h = size
            w = rng.randint(1, MAX_SIZE)
            out.append(";".join(",".join(str(rng.randint(-9, 9)) for _ in range(w)) for _ in range(h)))
    out += ["1,2;3", "a,b;c,d", ""]  # text that doesn't parse: refused, the last good view stays
    return out


TEXT_SAMPLES: dict[str, Callable[[], list[str]]] = {"kn_custom": _kernel_texts, "sp_kernel": _kernel_texts}


def declared() -> dict[str, Param]:
    """Every declared setting of every page, by key (the sidebar's too)."""
    found = {}
    for table in all_tables().values():
        for p in table:
            found[p.key] = p
    return found


@dataclass
class Draw:
    key: str
    what: str          # "set" or "press"
    value: Any         # the drawn value (labels for options), for the report
    make: Callable[[Any, WidgetState], None]


def _bounds(p: Param, proto) -> tuple[float, float]:
    lo, hi = p.lo, p.hi
    live_lo = getattr(proto, "min", None) if getattr(proto, "has_min", True) else None
    live_hi = getattr(proto, "max", None) if getattr(proto, "has_max", True) else None
    if live_lo is not None and (lo is None or live_lo > lo):
        lo = live_lo
    if live_hi is not None and (hi is None or live_hi < hi):
        hi = live_hi
    d = p.default[0] if isinstance(p.default, (list, tuple)) else p.default
    spread = max(10.0, 10 * abs(float(d or 0)))
    if lo is None:
        lo = float(d or 0) - spread
    if hi is None:
        hi = float(d or 0) + spread
    return float(lo), float(hi)


def _number(rng: random.Random, p: Param, proto, whole: bool, slider: bool = False) -> float:
    lo, hi = _bounds(p, proto)
    if hi < lo:
        hi = lo
    if rng.random() < 0.1:
        v = rng.choice((lo, hi))
    elif lo > 0 and hi / lo >= 1000 and rng.random() < 0.5:
        v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        v = rng.uniform(lo, hi)
    step = getattr(proto, "step", None) or p.step
    if whole:
        v = round(v)
    elif step and slider:
        v = lo + round((v - lo) / step) * step  # a slider moves in steps from its minimum
    return float(min(max(v, lo), hi))


def _labels(w) -> list[str]:
    if w.kind == "button_group":
        return [o.content for o in w.proto.options]
    return list(getattr(w.proto, "options", []))


def draw(rng: random.Random, widgets: dict, params: dict[str, Param] | None = None,
         press_share: float = PRESS_SHARE) -> Draw | None:
    """One action on the page whose widgets are ``widgets`` (key → ``classroom.Widget``): a declared setting set
    to a random value, or (``press_share`` of the time) a button pressed. None when the page has nothing."""
    params = declared() if params is None else params
    settable = [k for k, w in widgets.items() if k in params and not getattr(w.proto, "disabled", False)]
    buttons = [k for k, w in widgets.items() if w.kind == "button" and not k.startswith(NO_PRESS)
               and not getattr(w.proto, "disabled", False)]
    if buttons and (not settable or rng.random() < press_share):
        key = rng.choice(sorted(buttons))
        return Draw(key, "press", True, lambda w, s: setattr(s, "trigger_value", True))
    if not settable:
        return None
    key = rng.choice(sorted(settable))
    return draw_value(rng, key, widgets[key], params[key])


def draw_value(rng: random.Random, key: str, w, p: Param) -> Draw:
    kind = w.kind
    if p.type == "bool" or kind in ("checkbox", "toggle"):
        v = rng.random() < 0.5
        return Draw(key, "set", v, lambda w_, s: setattr(s, "bool_value", v))
    if p.type in ("choice", "multi"):
        labels = _labels(w)
        if p.type == "multi" or kind == "multiselect":
            most = min(len(labels), p.max_selections or len(labels))
            chosen = rng.sample(labels, rng.randint(0, most))
            return Draw(key, "set", chosen, lambda w_, s: s.string_array_value.data.extend(chosen))
        label = rng.choice(labels)
        if kind in ("selectbox", "radio"):
            return Draw(key, "set", label, lambda w_, s: setattr(s, "string_value", label))
        return Draw(key, "set", label, lambda w_, s: s.string_array_value.data.extend([label]))
    if kind in ("selectbox", "radio") and _labels(w):  # a text setting picked from a list (Inside the network's model)
        label = rng.choice(_labels(w))
        return Draw(key, "set", label, lambda w_, s: setattr(s, "string_value", label))
    if p.type == "text":
        samples = TEXT_SAMPLES.get(key)
        text = rng.choice(samples()) if samples else "".join(rng.choice("abc 123") for _ in range(rng.randint(0, 20)))
        return Draw(key, "set", text, lambda w_, s: setattr(s, "string_value", text))
    whole = p.type in ("int", "int_range")
    if p.type in ("int_range", "float_range"):
        a, b = sorted((_number(rng, p, w.proto, whole, kind == "slider"), _number(rng, p, w.proto, whole, kind == "slider")))
        return Draw(key, "set", (a, b), lambda w_, s: s.double_array_value.data.extend([a, b]))
    v = _number(rng, p, w.proto, whole, kind == "slider")
    if kind == "slider":
        return Draw(key, "set", v, lambda w_, s: s.double_array_value.data.extend([v]))
    return Draw(key, "set", v, lambda w_, s: setattr(s, "double_value", v))
