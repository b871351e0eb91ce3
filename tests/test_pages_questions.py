"""Predict, then see, on every lesson (AppTest, en and zh): the card hides what it asks about; a right answer says
"right" with the numbers, a wrong one "wrong" and why, a skip shows the answer; Home counts the outcomes.

The answers' correctness for many states is tests/test_questions.py's (against PyTorch, PIL, loops); here the
page must hand its question the state on screen: the expected answers below come from the pages' declared
defaults, computed independently where that is short."""
from __future__ import annotations

import numpy as np
import pytest

from explainer.maths import xo
from explainer.figures.style import fmt
from explainer.i18n import translate
from explainer.questions import question
from tests.conftest import app_test
from tests.pagewalk import undeclared
from ui.nav import LESSONS
from ui.tables.train import TABLE as TRAIN


def _first_lit(row: int) -> int:
    from explainer.data import mnist

    try:
        x_test = mnist.load_mnist(download=False)[2]
        img = x_test[0]
    except Exception:  # noqa: BLE001 — without MNIST the page draws a digit
        from explainer.data.images import draw_digit

        img = draw_digit(0)
    lit = np.flatnonzero(img[row])
    return row * 28 + int(lit[0] if lit.size else 14)


# lesson → (question, widget key prefix, the right answer at the page's defaults or None: found through a skip)
CASES = {
    "images": ("images.flat_index", "im", lambda: _first_lit(14)),
    "kernels": ("kernels.out_width", "kn", lambda: 512 - 3 + 1),  # camera 512 wide, vertical edge 3 wide
    "xo": ("xo.winner", "xo", lambda: xo.CLASSES[int(np.argmax(xo.run(xo.X).votes))]),
    "stride": ("stride.out_size", "sp", lambda: (5 + 2 * 1 - 3) // 2 + 1),  # 5×5 grid, 3×3, stride 2, "same" → 1
    "pooling": ("pooling.out_size", "pl", lambda: (6 - 2) // 2 + 1),
    "optimizers": ("optimizers.lowest", "op", None),
    "backprop": ("backprop.y_size", "bp", lambda: 3 * 3),  # the 5×5 "small" input, 3×3 kernel
    "train": ("train.updates", "tr", lambda: (TRAIN["tr_size"].default // TRAIN["tr_bs"].default)
              * TRAIN["tr_epochs"].default),
    "network": ("network.predicted", "nw", None),
}
TIMEOUT = 120


def _key(prefix: str, qid: str) -> str:
    return f"{prefix}_q_{qid.replace('.', '_')}"


def _answer(at, kind: str, key: str, value):
    if kind == "number":
        at.number_input(key=f"{key}_in").set_value(value)
    elif kind == "choice":
        at.radio(key=f"{key}_in").set_value(value)
    else:
        at.number_input(key=f"{key}_r").set_value(value[0])
        at.number_input(key=f"{key}_c").set_value(value[1])
    return at.button(key=f"{key}_check").click().run()


def _texts(elements) -> str:
    return " ".join(e.value for e in elements)


def _shown(kind: str, value, lang: str, labels: dict | None = None) -> str:
    if kind == "number":
        return fmt(value)
    return labels[value] if labels else str(value)


def _choice_labels(qid: str, options, lang: str) -> dict:
    q = question(qid)
    if q.choice_labels:
        return {o: translate(f"{q.choice_labels}{o}", lang) for o in options}
    return {o: str(o) for o in options}


@pytest.mark.parametrize("lesson,lang", [(lesson, "en") for lesson in CASES] + [("optimizers", "zh"), ("network", "zh")])
def test_predict_then_reveal(lesson, lang):
    """Hidden until answered; wrong → "wrong" and why; again; right → "right"; again; skip → the answer."""
    qid, prefix, expected = CASES[lesson]
    q = question(qid)
    key = _key(prefix, qid)
    at = app_test(lesson, lang, timeout=TIMEOUT, predict=True).run()
    assert not at.exception
    assert undeclared(at) == []  # the answer widgets are declared (ui/tables) and fit their declarations
    assert any(translate(q.prompt, lang).split("{")[0][:20] in m.value for m in at.markdown)
    if lesson in ("kernels", "xo", "optimizers"):  # these say what waits for the answer
        assert translate("questions.hidden", lang) in _texts(at.info)
    labels = None
    if expected is None:  # find the answer through a skip, then check it is the only right one
        at.button(key=f"{key}_skip").click().run()
        assert not at.exception and at.info
        radio_values = _radio_values(at, lesson, qid)
        labels = _choice_labels(qid, radio_values, lang)
        revealed = [v for v in radio_values if translate("questions.shown", lang, answer=labels[v]) in _texts(at.info)]
        assert len(revealed) == 1
        right = revealed[0]
        if lesson == "network":  # the page's own prediction line says the same class, once both questions are answered
            line = translate("network.prediction", lang, model="\0", pred=right, p="\0").split("\0")[1]
            assert line not in _texts(at.markdown) and translate("questions.hidden", lang) in _texts(at.info)
            assert not at.get("plotly_chart")[1:]  # the digit alone: no overview, detail or softmax yet
            at.button(key=_key(prefix, "network.confidence") + "_skip").click().run()
            assert line in _texts(at.markdown)  # "** reads a **7** (" with this class
            assert translate("questions.hidden", lang) not in _texts(at.info) and len(at.get("plotly_chart")) > 3
        at.button(key=f"{key}_again").click().run()
    else:
        right = expected()
        if q.kind == "choice":
            labels = _choice_labels(qid, q.choices, lang)
    wrong = (right + 1) if q.kind == "number" else next(v for v in _radio_values(at, lesson, qid) if v != right)
    at = _answer(at, q.kind, key, wrong)
    assert not at.exception
    err = _texts(at.error)
    assert translate("questions.wrong", lang, answer=_shown(q.kind, right, lang, labels),
                     given=_shown(q.kind, wrong, lang, labels)) in err
    assert any(ch.isdigit() for ch in err.split(".", 1)[-1])  # the why has the numbers
    at.button(key=f"{key}_again").click().run()
    at = _answer(at, q.kind, key, right)
    assert not at.exception
    assert translate("questions.right", lang, answer=_shown(q.kind, right, lang, labels)) in _texts(at.success)
    assert not [b for b in at.button if b.key in (f"{key}_check", f"{key}_skip")]  # the reveal alone, at once
    if lesson == "kernels":  # its one question answered: the output map is back
        assert translate("questions.hidden", lang) not in _texts(at.info)
    at.button(key=f"{key}_again").click().run()
    at.button(key=f"{key}_skip").click().run()
    assert translate("questions.shown", lang, answer=_shown(q.kind, right, lang, labels)) in _texts(at.info)
    assert at.session_state["_question_tally"][lesson][qid] == "skipped"


def _radio_values(at, lesson, qid):
    """The choice values the page offers: the question's own, the ten classes, or the optimizers raced."""
    q = question(qid)
    if q.choices:
        return list(q.choices)
    if lesson == "network":
        return list(range(10))
    return list(at.session_state["op_opts"])


@pytest.mark.parametrize("lesson", ["images", "kernels", "xo", "stride", "pooling", "backprop", "train"])
def test_right_and_wrong_in_chinese(lesson):
    qid, prefix, expected = CASES[lesson]
    q = question(qid)
    key = _key(prefix, qid)
    right = expected()
    labels = _choice_labels(qid, q.choices, "zh") if q.kind == "choice" else None
    at = app_test(lesson, "zh", timeout=TIMEOUT, predict=True).run()
    assert not at.exception and undeclared(at) == []
    at = _answer(at, q.kind, key, right)
    assert translate("questions.right", "zh", answer=_shown(q.kind, right, "zh", labels)) in _texts(at.success)
    at.button(key=f"{key}_again").click().run()
    wrong = (right + 1) if q.kind == "number" else next(v for v in q.choices if v != right)
    at = _answer(at, q.kind, key, wrong)
    assert translate("questions.wrong", "zh", answer=_shown(q.kind, right, "zh", labels),
                     given=_shown(q.kind, wrong, "zh", labels)) in _texts(at.error)


def test_a_cell_question_takes_row_and_column_and_accepts_every_tie():
    """X/O: where the cross filter's map is strongest, on the clean X (one cell: the centre)."""
    key = _key("xo", "xo.best_cell")
    m = xo.filter_maps(xo.X)[1]
    best = [int(v) for v in np.unravel_index(int(np.argmax(m)), m.shape)]
    at = app_test("xo", "en", timeout=TIMEOUT, predict=True).run()
    assert translate("questions.hidden", "en") in _texts(at.info)  # the maps wait
    assert undeclared(at) == []  # the row and column inputs are declared
    at = _answer(at, "cell", key, [0, 0])
    assert undeclared(at) == []
    assert translate("questions.wrong", "en", answer=translate("questions.cell", "en", row=best[0], col=best[1]),
                     given=translate("questions.cell", "en", row=0, col=0)) in _texts(at.error)
    at.button(key=f"{key}_again").click().run()
    at = _answer(at, "cell", key, best)
    assert translate("questions.right", "en", answer=translate("questions.cell", "en", row=best[0], col=best[1])) in \
        _texts(at.success)


def test_a_new_state_asks_again_and_the_hidden_part_shows_after_an_answer():
    """Stride: answered for 5×5, the size text shows; another kernel size asks again (hidden again)."""
    key = _key("sp", "stride.out_size")
    at = app_test("stride", "en", timeout=TIMEOUT, predict=True).run()
    size_word = translate("stride.formula_torch", "en")[:20]
    assert size_word not in _texts(at.markdown)
    at.button(key=f"{key}_skip").click().run()
    assert size_word in _texts(at.markdown)
    at.slider(key="sp_k").set_value(5).run()
    assert size_word not in _texts(at.markdown) and at.button(key=f"{key}_check")
    at.number_input(key=f"{key}_in").set_value(99).run()  # typed (a rerun, as a browser sends it), then checked
    at.button(key=f"{key}_check").click().run()  # wrong; asked again, its input starts empty
    at.button(key=f"{key}_again").click().run()
    assert at.number_input(key=f"{key}_in").value is None


def test_presenter_mode_asks_the_room_and_counts_nothing():
    key = _key("sp", "stride.out_size")
    at = app_test("stride", "en", timeout=TIMEOUT, predict=True, presenter=True).run()
    assert not [n for n in at.number_input if n.key == f"{key}_in"]  # the room answers aloud
    at.button(key=f"{key}_reveal").click().run()
    assert translate("questions.shown", "en", answer="3") in _texts(at.info)
    assert "stride" not in at.session_state["_question_tally"] if "_question_tally" in at.session_state else True


def test_predict_first_off_shows_everything_without_a_card():
    at = app_test("stride", "en", timeout=TIMEOUT, predict=False).run()
    assert not [b for b in at.button if b.key and "_q_" in b.key]
    assert translate("stride.formula_torch", "en")[:20] in _texts(at.markdown)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_home_shows_the_tally_per_lesson(lang):
    at = app_test("home", lang, timeout=TIMEOUT).run()
    assert translate("questions.home_none", lang) in _texts(at.markdown)
    tally = {"stride": {"stride.out_size": "right", "stride.params": "wrong", "stride.transposed_size": "skipped"},
             "xo": {"xo.winner": "right"}}
    at = app_test("home", lang, timeout=TIMEOUT, _question_tally=tally).run()
    md = _texts(at.markdown)
    assert translate("questions.home_none", lang) not in md
    from explainer.i18n import translate_n

    icons = {url: icon for _, _, icon, url in LESSONS}

    def line(lesson, n, **counts):
        return translate("questions.home_lesson", lang, lesson=f"{icons[lesson]} {translate(f'nav.{lesson}', lang)}",
                         tally=translate_n("questions.tally", n, lang, **counts))

    lines = [m.value for m in at.markdown if m.value.startswith("**")]
    assert line("stride", 3, right=1, wrong=1, skipped=1) in lines
    assert line("xo", 1, right=1, wrong=0, skipped=0) in lines
    assert not any(translate("nav.pooling", lang) in v for v in lines)  # no answers there: no line


def test_home_counts_answers_given_in_a_lesson(server_like_pages):
    """Through the app: answer on Stride, then Home shows it (the same browser session)."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.session_state["predict"] = True
    at.run()
    at.switch_page("pages/stride.py").run()
    assert not at.exception
    key = _key("sp", "stride.out_size")
    at = _answer(at, "number", key, 3)
    assert at.success
    from explainer.questions import tally_text

    qt = at.query_params["qt"]
    qt = qt[0] if isinstance(qt, list) else qt
    assert qt.split(".")[0] == tally_text({"stride": {"stride.out_size": "right"}})  # the URL has it at once
    at.switch_page("pages/home.py").run()
    from explainer.i18n import translate_n

    assert translate_n("questions.tally", 1, "en", right=1, wrong=0, skipped=0) in _texts(at.markdown)
    assert "qt" in at.query_params  # it stays in the URL on another page


@pytest.mark.parametrize("env,cards", [("0", False), ("1", True)])
def test_the_server_may_start_sessions_with_predict_first_off(monkeypatch, env, cards):
    """``EXPLAINER_PREDICT_FIRST=0``: a new session sees everything at once (the browser tests' servers do)."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    monkeypatch.setenv("EXPLAINER_PREDICT_FIRST", env)
    at = AppTest.from_file(str(ROOT / "pages" / "stride.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert bool([b for b in at.button if b.key and "_q_" in b.key]) == cards


def test_pooling_first_window_is_what_the_walk_shows_at_its_first_step():
    """The page hands the question the grid on screen: the revealed value is the stepper's first result."""
    at = app_test("pooling", "en", timeout=TIMEOUT, predict=True).run()
    at.button(key=_key("pl", "pooling.out_size") + "_skip").click().run()
    at.button(key=_key("pl", "pooling.first_window") + "_skip").click().run()
    assert not at.exception
    head, tail = translate("pooling.max_text", "en", values="\0", y="\0").split("\0")[1:]
    steps = [m.value for m in at.markdown if m.value.startswith("max(") and tail in m.value]
    assert len(steps) == 1
    y = steps[0].split(head, 1)[1].split(tail.split("\0")[0], 1)[0]  # the **y** of step 1
    assert translate("questions.shown", "en", answer=y) in _texts(at.info)


def test_settings_the_question_cannot_take_show_the_page_without_a_card():
    """Transposed convolution with an output padding the stride refuses: the page says so and keeps the last good
    walk; the question (whose formula refuses it too) steps aside instead of failing."""
    key = _key("sp", "stride.transposed_size")
    at = app_test("stride", "en", timeout=TIMEOUT, predict=True, sp_view="transposed").run()
    assert not at.exception and at.button(key=f"{key}_check")
    at.slider(key="sp_tpad").set_value(2).run()  # stride 2: output padding must be below 2
    assert not at.exception and at.error
    assert not [b for b in at.button if b.key == f"{key}_check"]


def test_the_tally_lives_in_the_url_too():
    """Home's tally is kept in the URL (``?qt=``, one letter per question, then the browser's tag): written from the
    session, read back from a link in the same browser (a reload, another tab: the same ``ce_visitor`` cookie), not from
    someone else's link (their tag: nothing handed over, and the address bar gets this session's own tally), and a
    malformed or too long value is refused with a toast (the session's tally stays)."""
    from explainer.i18n import translate_n
    from explainer.questions import TALLY_CHARS, tally_text

    mine, theirs = {"_visitor_cookie": "a" * 32}, {"_visitor_cookie": "b" * 32}  # two browsers (ui.jobs.visitor)
    tally = {"stride": {"stride.out_size": "right", "stride.params": "wrong"}, "xo": {"xo.winner": "skipped"}}
    at = app_test("home", "en", timeout=TIMEOUT, _question_tally=tally, **mine).run()
    assert not at.exception
    text = at.query_params["qt"][0] if isinstance(at.query_params["qt"], list) else at.query_params["qt"]
    letters, tag = text.split(".")
    assert letters == tally_text(tally) and set(letters) == {"-", "r", "w", "s"} and len(letters) <= TALLY_CHARS
    assert len(tag) == 8 and "a" * 32 not in text  # a one-way mark, not the cookie

    at = app_test("home", "en", timeout=TIMEOUT, **mine)  # the same browser opens the link (a reload): the same lines
    at.query_params["qt"] = text
    at.run()
    md = _texts(at.markdown)
    assert translate_n("questions.tally", 2, "en", right=1, wrong=1, skipped=0) in md
    assert translate_n("questions.tally", 1, "en", right=0, wrong=0, skipped=1) in md

    own = {"xo": {"xo.winner": "right"}}
    at = app_test("home", "en", timeout=TIMEOUT, _question_tally=own, **theirs)  # someone else opens the link
    at.query_params["qt"] = text
    at.run()
    assert not at.exception and not at.toast
    md = _texts(at.markdown)
    assert translate_n("questions.tally", 2, "en", right=1, wrong=1, skipped=0) not in md  # nothing handed over
    assert translate_n("questions.tally", 1, "en", right=1, wrong=0, skipped=0) in md  # their own tally stays
    got = at.query_params["qt"][0] if isinstance(at.query_params["qt"], list) else at.query_params["qt"]
    assert got.split(".")[0] == tally_text(own) and got.split(".")[1] != tag  # and replaces it in the address bar
    at = app_test("home", "en", timeout=TIMEOUT, **theirs)  # nor an untagged one (an older link, or typed)
    at.query_params["qt"] = letters
    at.run()
    assert translate_n("questions.tally", 2, "en", right=1, wrong=1, skipped=0) not in _texts(at.markdown)

    for bad in ("rrx", "r" * (TALLY_CHARS + 1), "<b>", f"rrx.{tag}"):
        at = app_test("home", "en", timeout=TIMEOUT, _question_tally={"xo": {"xo.winner": "right"}}, **mine)
        at.query_params["qt"] = bad
        at.run()
        assert not at.exception
        assert [x for x in at.toast if "qt" in x.value]  # said, with the parameter's name
        assert translate_n("questions.tally", 1, "en", right=1, wrong=0, skipped=0) in _texts(at.markdown)


def _chart_texts(at) -> str:
    """The charts' titles."""
    import json

    titles = [json.loads(c.proto.spec).get("layout", {}).get("title", {}) for c in at.get("plotly_chart")]
    return " ".join(str(x.get("text", "")) if isinstance(x, dict) else str(x) for x in titles)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_train_hides_the_layer_tables_answers_until_asked(lang):
    """Train: the layer table's shapes wait for ``train.first_values``, its parameter counts and total for
    ``train.params``; the numbers shown nowhere before."""
    at = app_test("train", lang, timeout=TIMEOUT, predict=True).run()
    assert not at.exception
    params = question("train.params").answer({"model": TRAIN["tr_model"].default})
    first = question("train.first_values").answer({"model": TRAIN["tr_model"].default})
    cols = lambda: list(at.dataframe[0].value.columns)  # noqa: E731
    table = at.dataframe[0].value.to_string()
    assert cols() == [translate("train.col_layer", lang)] and translate("train.total_row", lang) not in table
    assert translate("questions.hidden_below", lang) in _texts(at.info)
    everything = table + _texts(at.markdown) + _texts(at.caption) + _texts(at.info)
    assert f"{params:,}" not in everything and str(params) not in everything
    assert first == 16 * 28 * 28 and "16 × 28 × 28" not in everything  # the fast model's first convolution
    at.button(key=_key("tr", "train.params") + "_skip").click().run()
    assert cols() == [translate("train.col_layer", lang), translate("train.col_params", lang)]
    assert f"{params:,}" in at.dataframe[0].value.to_string()  # the total row is back
    at.button(key=_key("tr", "train.first_values") + "_skip").click().run()
    assert len(cols()) == 3 and translate("questions.hidden_below", lang) not in _texts(at.info)
    assert "16 × 28 × 28" in at.dataframe[0].value.to_string()
    if lang == "en":  # the MLP flattens first: its answer (784) is the prompt's 28×28 and in its name: not asked
        at.selectbox(key="tr_model").set_value("mlp").run()
        assert not at.exception
        keys = {b.key for b in at.button}
        assert _key("tr", "train.params") + "_check" in keys and _key("tr", "train.first_values") + "_check" not in keys


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_backprop_asks_the_size_of_y_then_the_bias_gradient(lang):
    """How kernels learn: Y, T and ∂L/∂Y wait for ``backprop.y_size``; ∂L/∂b and the gradients below for
    ``backprop.grad_b``, whose card comes once ∂L/∂Y shows."""
    y_title = translate("backprop.y_title", lang, h=3, w=3)
    gb = translate("backprop.grad_b", lang)
    at = app_test("backprop", lang, timeout=TIMEOUT, predict=True).run()
    assert not at.exception
    assert y_title not in _chart_texts(at) and not [m for m in at.metric if m.label == gb]
    assert not [b for b in at.button if b.key == _key("bp", "backprop.grad_b") + "_check"]
    at.button(key=_key("bp", "backprop.y_size") + "_skip").click().run()
    assert y_title in _chart_texts(at) and not [m for m in at.metric if m.label == gb]
    at.button(key=_key("bp", "backprop.grad_b") + "_skip").click().run()
    from ui.tables.backprop import TABLE as BP

    grad_b = question("backprop.grad_b").answer({k: BP[f"bp_{p}"].default for k, p in (
        ("input", "input"), ("kernel", "kernel"), ("target", "target"), ("bias", "bias"), ("stride", "s"), ("padding", "p"))})
    shown = [m.value for m in at.metric if m.label == gb]
    assert shown == [fmt(grad_b)] and translate("questions.shown", lang, answer=fmt(grad_b)) in _texts(at.info)


# lesson → (question, prefix, the page's settings as a link gives them, the answer worked out by hand, language)
OTHER_STATES = {
    "images": ("images.flat_index", "im", {"im_row": "10"}, lambda: _first_lit(10), "zh"),
    "kernels": ("kernels.out_width", "kn", {"kn_kernel": "curve", "kn_src": "checkerboard"}, lambda: 64 - 7 + 1, "en"),
    "xo": ("xo.winner", "xo", {"xo_preset": "o"}, lambda: "O", "zh"),
    "stride": ("stride.out_size", "sp", {"sp_h": "7", "sp_k": "3", "sp_s": "2", "sp_p": "0", "sp_d": "2"},
               lambda: (7 + 0 - 2 * (3 - 1) - 1) // 2 + 1, "en"),
    "pooling": ("pooling.out_size", "pl", {"pl_h": "6", "pl_w": "6", "pl_size": "3", "pl_stride": "1", "pl_pad": "1"},
                lambda: (6 + 2 - 3) // 1 + 1, "zh"),
    "backprop": ("backprop.y_size", "bp", {"bp_s": "1", "bp_p": "1"}, lambda: ((5 + 2 - 3) // 1 + 1) ** 2, "en"),
    "train": ("train.updates", "tr", {"tr_size": "1000", "tr_bs": "64", "tr_epochs": "3"}, lambda: (1000 // 64) * 3,
              "zh"),
}


@pytest.mark.parametrize("lesson", sorted(OTHER_STATES))
def test_the_answer_follows_the_state_on_screen(lesson):
    """Another state than the defaults (opened as a link gives it): the page hands its question what it shows, so the
    reveal (after a skip, and a right answer) has the answer worked out by hand for that state."""
    qid, prefix, params, expected, lang = OTHER_STATES[lesson]
    q = question(qid)
    key = _key(prefix, qid)
    at = app_test(lesson, lang, timeout=TIMEOUT, predict=True)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception and not at.toast  # every setting of the link taken
    right = expected()
    assert right != CASES[lesson][2]()  # not the defaults' answer
    labels = _choice_labels(qid, q.choices, lang) if q.kind == "choice" else None
    at.button(key=f"{key}_skip").click().run()
    assert translate("questions.shown", lang, answer=_shown(q.kind, right, lang, labels)) in _texts(at.info)
    at.button(key=f"{key}_again").click().run()
    at = _answer(at, q.kind, key, right)
    assert translate("questions.right", lang, answer=_shown(q.kind, right, lang, labels)) in _texts(at.success)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_xo_maps_wait_for_both_map_questions(lang):
    """X/O: the maps carry every value (the inspector's question) and their strongest cell (the cell question), and the
    worked example under them names the default cell's 0.78: all wait for both; the later stages wait for the maps."""
    example = translate("xo.conv_example", lang)
    map_title = translate("xo.map_title", lang)
    at = app_test("xo", lang, timeout=TIMEOUT, predict=True).run()
    assert not at.exception and example not in _texts(at.markdown) and map_title not in _chart_texts(at)
    assert f"{question('xo.map_value').answer({'grid': xo.grid_text(xo.X), 'filter': 0, 'row': 0, 'col': 0}):.2f}" \
        in example  # what the example would give away
    at.button(key=_key("xo", "xo.best_cell") + "_skip").click().run()
    assert example not in _texts(at.markdown) and map_title not in _chart_texts(at)
    at.button(key=_key("xo", "xo.map_value") + "_skip").click().run()
    assert example in _texts(at.markdown) and map_title in _chart_texts(at)
    at = app_test("xo", lang, timeout=TIMEOUT, predict=True, xo_view="relu").run()
    assert translate("questions.hidden", lang) in _texts(at.info)
    assert translate("xo.relu_text", lang) not in _texts(at.markdown)
