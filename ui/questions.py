"""Predict, then see: a lesson's question card (``explainer.questions`` holds the questions and their answers).

    revealed = ask("stride.out_size", {"n": ih, "k": kh, "s": sh, "p": pad_h, "d": dh}, "sp")
    if revealed:
        ...  # the number or figure the question is about

``ask`` draws the card: the prompt, an input (a number, the choices, or a grid of cells to click), "Check" and
"Skip, show me". Until the learner answers or skips it returns False and the page keeps the revealing element
hidden; then the card says right or wrong and why, with the numbers, and ``ask`` returns True. A new state
(another slider value, another drawn grid) asks again. Answers live in the session only; ``tally()`` gives the
learner's outcomes per lesson for Home, kept in the session and in the URL (``?qt=``, one letter per question:
``explainer.questions.tally_text``, then this browser's tag), so a reload or the learner's own link in the same browser
keeps it, and a link copied from someone else's address bar does not hand their tally over; nothing is stored on the
server.

Presenter mode: the card shows the question large with one "Reveal" button (the room answers aloud) and counts
nothing. The sidebar's "Predict first" switch (``predict``, session only) turns every card off: pages show
everything at once, as before. It is on for a new session unless the server sets ``EXPLAINER_PREDICT_FIRST=0``.
"""
from __future__ import annotations

import json
import os

import streamlit as st

from explainer.questions import Posed, parse_tally, question, tally_text
from ui.shell import from_outside, lang, literal, presenter, publish, restore, t, widget
from ui.tables.shared import question_key

_ANSWERS = "_question_answers"  # qid → {"sig": the posed question's signature, "outcome": …, "given": …}
_TALLY = "_question_tally"  # lesson → {qid: "right" | "wrong" | "skipped"} (the latest outcome per question)
OUTCOMES = ("right", "wrong", "skipped")


ENV_DEFAULT = "EXPLAINER_PREDICT_FIRST"  # "0": a server whose lessons show everything at once until a learner asks


def default_on() -> bool:
    """"Predict first" for a new session: on, unless the server sets ``EXPLAINER_PREDICT_FIRST=0``."""
    return os.environ.get(ENV_DEFAULT, "1") != "0"


def enabled() -> bool:
    """Whether lessons ask before they show (the sidebar's "Predict first")."""
    return bool(st.session_state.get("predict", default_on()))


@st.cache_data(max_entries=512, show_spinner=False)
def _posed(qid: str, state_json: str) -> dict | None:
    """The question posed for this state, as its small dict (cached for every session: a rerun costs a hash); None
    for a state the question can't take (cached too: the MLP's model is not built again on every rerun)."""
    try:
        return question(qid).pose(json.loads(state_json)).to_dict()
    except (ValueError, TypeError, KeyError, IndexError):  # a UserError is a ValueError
        return None


def pose(qid: str, state: dict) -> Posed:
    """``qid`` posed on ``state``; ``ValueError`` for a state it can't take."""
    d = _posed(qid, json.dumps(state, sort_keys=True))
    if d is None:
        raise ValueError("no question for this state")
    return Posed.from_dict(d)


TALLY_KEY = "qt"  # the tally's URL parameter
_TAG_CHARS = 8


def _tag() -> str:
    """This browser's mark on its tally's URL text: a one-way hash of who it is (``ui.jobs.visitor``: its first-party
    ``ce_visitor`` cookie, or the logged-in user; else this session). A reload or another tab of the same browser
    carries the same mark; a link copied from someone else's address bar carries theirs."""
    import hashlib

    from ui.jobs import visitor

    return hashlib.sha256(f"explainer-tally|{visitor()}".encode()).hexdigest()[:_TAG_CHARS]


def _own_tally(raw: str) -> dict | None:
    """A ``?qt=`` value ``letters.tag``: its tally when the tag is this browser's, None when it is someone else's (or
    an older link without one); ``ValueError`` for text that isn't a tally (``explainer.questions.parse_tally``)."""
    letters, _, tag = raw.partition(".")
    tally = parse_tally(letters)
    return tally if tag == _tag() else None


def sync_tally() -> dict[str, dict[str, str]]:
    """The tally, kept in the session and the URL: a link's ``?qt=`` (from outside: a reload, the learner's own link)
    wins when it carries this browser's tag (``_tag``): a link from someone else's address bar hands over nothing, and
    the session's own tally replaces it in the address bar. A malformed or too long value: a toast, the session's tally
    stays. Then the session's tally is written back to the URL (nothing while there is none)."""
    ss = st.session_state
    if from_outside(TALLY_KEY, st.query_params.get(TALLY_KEY)):
        mine = restore(TALLY_KEY, None, _own_tally)
        if mine is not None:
            ss[_TALLY] = mine
    found = ss.get(_TALLY, {})
    text = tally_text(found)
    if text or TALLY_KEY in st.query_params:
        publish(TALLY_KEY, found, f"{text}.{_tag()}" if text else "")
    return found


def tally() -> dict[str, dict[str, str]]:
    """Per lesson: each answered question's latest outcome (this browser session and its URL)."""
    return sync_tally()


def _text(key: str, params: dict, words: dict) -> str:
    """``key``'s text: ``params`` filled in (a list of ``[catalogue key, text]`` pairs as "label: text; …"), each of
    ``words`` (parameter → catalogue key) translated."""
    def pairs(items) -> str:
        return t("questions.list_sep").join(t("questions.pair", label=t(w), value=v) for w, v in items)

    shown = {k: pairs(p) if isinstance(p, list) else p for k, p in params.items()}
    return t(key, **shown, **{k: t(v) for k, v in words.items() if not k.startswith("choice_")})


def _choice_labels(p: Posed) -> dict:
    code = lang()
    from explainer.i18n import translate

    def label(v):
        key = p.words.get(f"choice_{v}")
        if key:
            return translate(key, code)
        return translate(f"{p.choice_labels}{v}", code) if p.choice_labels else str(v)

    return {v: label(v) for v in p.choices}


def _shown(p: Posed, value, cells: bool = False) -> str:
    """A value of ``p``'s kind as the learner reads it (the answer's cells: every accepted one)."""
    if p.kind == "choice":
        return _choice_labels(p).get(value, literal(value))
    if p.kind == "cell":
        return ", ".join(t("questions.cell", row=r, col=c) for r, c in (value if cells else [value]))
    from explainer.figures.style import fmt

    return fmt(value)


def _record(p: Posed, sig: str, outcome: str, given) -> None:
    st.session_state.setdefault(_ANSWERS, {})[p.id] = {"sig": sig, "outcome": outcome, "given": given}
    st.session_state.setdefault(_TALLY, {}).setdefault(p.lesson, {})[p.id] = outcome


def _declared(p: Posed, key: str, part: str):
    """The declared ``Param`` of an answer widget (``ui.tables.shared.question_params`` in the lesson's table): a page
    whose prefix its table doesn't declare fails here, not silently."""
    import importlib

    return importlib.import_module(f"ui.tables.{p.lesson}").TABLE[f"{key}_{part}"]


def _inputs(p: Posed, key: str):
    """The answer widget(s) for ``p``, each declared and created through ``ui.shell.widget`` (session only); returns
    the given answer (None while nothing is given)."""
    label = t("questions.your_answer")
    if p.kind == "number":
        return widget(st.number_input, label, _declared(p, key, "in"), value=None, format="%g",
                      help=t("questions.tolerance", tol=p.tolerance) if p.tolerance else None)
    if p.kind == "choice":
        names = _choice_labels(p)
        return widget(st.radio, label, _declared(p, key, "in"), options=list(p.choices), index=None, horizontal=True,
                      format_func=names.__getitem__)
    rows, cols = p.grid
    c1, c2 = st.columns(2)
    r = widget(c1.number_input, t("common.row"), _declared(p, key, "r"), max_value=rows - 1, value=None)
    c = widget(c2.number_input, t("common.column"), _declared(p, key, "c"), max_value=cols - 1, value=None)
    return None if r is None or c is None else [int(r), int(c)]


def _cell_grid(p: Posed, key: str) -> None:
    """A cell question's grid of squares to click (a click answers at once: ``_clicked`` reads it on the next run)."""
    from explainer.figures.stepper import cell_picker
    from ui.charts import chart
    from ui.stepper import figure_labels

    rows, cols = p.grid
    chart(cell_picker(rows, cols, -1, -1, labels=figure_labels(), title=t("questions.click_cell"), height=260),
          key=f"{key}_grid", name=t("questions.click_cell"), on_select="rerun", selection_mode="points",
          config={"displayModeBar": False}, summary="")


def _clicked(key: str):
    """The cell clicked on the grid in the last run, or None."""
    event = st.session_state.get(f"{key}_grid")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    return [int(points[0]["y"]), int(points[0]["x"])] if points else None


def _given(kind: str, key: str):
    """What the learner entered (None while nothing is)."""
    ss = st.session_state
    if kind == "cell":
        r, c = ss.get(f"{key}_r"), ss.get(f"{key}_c")
        return None if r is None or c is None else [int(r), int(c)]
    return ss.get(f"{key}_in")


# Buttons act in callbacks, before the script runs: the run after a click draws the reveal alone (drawn in the
# click's own run, the inputs and buttons would still stand above it once).
def _on_check(d: dict, sig: str, key: str) -> None:
    p = Posed.from_dict(d)
    given = _given(p.kind, key)
    if given is not None:
        _record(p, sig, "right" if p.check(given) else "wrong", given)
        _clear(key)


def _on_skip(d: dict, sig: str, key: str) -> None:
    _record(Posed.from_dict(d), sig, "skipped", None)
    _clear(key)


def _clear(key: str) -> None:
    """An answered card's inputs start empty when it asks again (``ui.shell.widget`` keeps a session-only value)."""
    from ui.shell import _KEPT

    for part in ("in", "r", "c"):
        st.session_state.get(_KEPT, {}).pop(f"{key}_{part}", None)


def _on_reveal(qid: str, sig: str) -> None:
    """Presenter mode: the room has answered aloud; nothing counts."""
    st.session_state.setdefault(_ANSWERS, {})[qid] = {"sig": sig, "outcome": "skipped", "given": None}


def _reveal(p: Posed, outcome: str, key: str, given=None) -> None:
    why = _text(p.explain, p.explain_params, p.words)
    answer = _shown(p, p.answer, cells=True)
    if outcome == "right":
        st.success(t("questions.right", answer=answer) + " " + why)
    elif outcome == "wrong":
        st.error(t("questions.wrong", answer=answer, given=_shown(p, given)) + " " + why)
    else:
        st.info(t("questions.shown", answer=answer) + " " + why)
    if not presenter():
        st.button(t("questions.again"), key=f"{key}_again", on_click=_forget, args=(p.id,),
                  icon=":material/replay:")


def _forget(qid: str) -> None:
    st.session_state.get(_ANSWERS, {}).pop(qid, None)


def ask(qid: str, state: dict, prefix: str) -> bool:
    """Draw ``qid``'s card for the page's ``state`` (widget keys start with the page's ``prefix``); True once the
    learner has answered or skipped (the page then shows what the question hid). With "Predict first" off:
    no card, True."""
    if not enabled():
        return True
    sync_tally()
    try:
        p = pose(qid, state)
    except (ValueError, TypeError, KeyError, IndexError):  # a state the question can't take (UserError is a
        return True  # ValueError): no card, the page shows everything as before — never a traceback
    sig = json.dumps([p.params, p.answer, p.choices], sort_keys=True, default=str)
    key = question_key(prefix, qid)
    kept = st.session_state.get(_ANSWERS, {}).get(qid)
    with st.container(border=True, key=key):
        st.markdown(f"**{t('questions.predict')}** {_text(p.prompt, p.params, p.words)}")
        if (kept is None or kept["sig"] != sig) and p.kind == "cell" and not presenter():
            cell = _clicked(key)  # a click on the grid in the last run answers
            if cell is not None:
                _record(p, sig, "right" if p.check(cell) else "wrong", cell)
                kept = st.session_state[_ANSWERS][qid]
                sync_tally()
        if kept is not None and kept["sig"] == sig:
            _reveal(p, kept["outcome"], key, kept.get("given"))
            return True
        d = p.to_dict()
        if presenter():
            st.button(t("questions.reveal"), key=f"{key}_reveal", type="primary", on_click=_on_reveal, args=(qid, sig))
            from ui.polls import ask_the_class

            ask_the_class(d, key)  # a class poll of this question (pages/poll.py)
            return False
        if p.kind == "cell":
            _cell_grid(p, key)
        _inputs(p, key)
        c1, c2 = st.columns(2)
        c1.button(t("questions.check"), key=f"{key}_check", type="primary", on_click=_on_check, args=(d, sig, key))
        c2.button(t("questions.skip"), key=f"{key}_skip", on_click=_on_skip, args=(d, sig, key))
        return False


def ask_all(lesson: str, state: dict, prefix: str) -> dict[str, bool]:
    """Every question of ``lesson`` on one ``state`` (a page that shows them together), in the registry's order:
    ``{qid: revealed}``."""
    from explainer.questions import QUESTIONS

    return {q.id: ask(q.id, state, prefix) for q in QUESTIONS[lesson]}
