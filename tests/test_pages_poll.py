"""AppTest of the class poll (pages/poll.py, ui/polls.py): the presenter's "Ask the class" on a lesson's question, the
projector's view and controls, the students' phones; and what a hostile student tries (guessed codes, the lecturer's
controls, odd answers, a closed poll's link). The polls live in the tests' SQLite file (conftest: a temporary folder);
the model's own tests, on SQLite and PostgreSQL, are tests/test_polls.py."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explainer import limits
from explainer.i18n import translate
from explainer.polls import ALPHABET, shared_polls
from explainer.questions import question
from tests.conftest import app_test

ROOT = Path(__file__).resolve().parents[1]
STRIDE = {"n": 5, "k": 3, "s": 2, "p": 1, "d": 1}  # the stride page's defaults: the answer is 3


def posed(qid: str = "stride.out_size", state: dict = STRIDE) -> dict:
    return question(qid).pose(state).to_dict()


def student(code: str, lang: str = "en", **state) -> AppTest:
    at = app_test("poll", lang, **state)
    at.query_params["cp_code"] = code
    return at.run()


def texts(at, kind: str) -> list[str]:
    return [e.value for e in at.get(kind)]


def everything(at) -> str:
    return "\n".join(texts(at, "markdown") + texts(at, "info") + texts(at, "success") + texts(at, "error")
                     + texts(at, "warning") + texts(at, "subheader"))


def flat(node) -> list:
    """The page's elements in the order they are drawn (blocks opened)."""
    children = getattr(node, "children", None)
    if not isinstance(children, dict):
        return [node]
    return [e for _, child in sorted(children.items()) for e in flat(child)]


def presenter_app(lang: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state["lang"] = lang
    at.session_state["presenter"] = True
    at.session_state["predict"] = True
    return at.run()


# ---------------------------------------------------------------- the presenter
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_presenter_asks_the_class_and_reveals(server_like_pages, lang):  # the whole app: the lesson, then the poll
    at = presenter_app(lang)
    at.switch_page("pages/stride.py").run()
    at.button(key="sp_q_stride_out_size_ask").click().run()
    assert not at.exception, at.exception
    code = at.session_state["cp_code"]
    assert len(code) == 6 and set(code) <= set(ALPHABET)
    assert at.query_params["cp_code"] in (code, [code]) and "cp_key" not in at.query_params  # the secret is never in the URL
    at.switch_page("pages/poll.py").run()
    assert at.title[0].value == translate("poll.title", lang)
    shown = everything(at)
    assert code in shown and f"/poll?cp_code={code}" in shown
    images = [n for n in at._tree if type(n).__name__ == "Image"]
    assert len(images) == 1  # the QR code
    assert translate("poll.histogram_none", lang) in shown
    secret = at.session_state["_poll_lecturer"][code]
    assert secret not in shown
    drawn = [str(n.proto) for n in flat(at._tree) if hasattr(n, "proto")]  # every element: code, expanders, captions
    assert not [d for d in drawn if secret in d]  # nowhere on the projector, not even collapsed
    [saved] = at.get("download_button")  # the lecturer saves it as a file instead
    assert saved.proto.label == translate("poll.lecturer_link_save", lang) and saved.proto.url.endswith(".txt")
    polls = shared_polls()
    for i, given in enumerate([3, 3, 4]):
        polls.answer(code, f"{lang} phone {i}", given)
    at.run()
    assert f"**{translate('poll.answers', lang, n=3)}**" in everything(at)
    import json

    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert [s["data"][0]["type"] for s in specs] == ["heatmap", "bar"]  # the question's figure, the live histogram
    bars = specs[1]["data"][0]
    assert dict(zip(bars["x"], bars["y"])) == {"3": 2, "4": 1}
    at.button(key="cp_reveal").click().run()
    assert not at.exception
    assert polls.tally(code).state == "revealed"
    assert any(s.startswith(translate("poll.shown", lang, answer="3")) for s in texts(at, "success"))


def test_next_asks_the_lessons_next_question_under_the_same_secret():
    first, second = posed(), posed("stride.params", {"kernels": 8, "channels": 3, "f": 3})
    made = shared_polls().create(first)
    at = app_test("poll", "zh", presenter=True, _poll_seen={"stride": {first["id"]: first, second["id"]: second}},
                  _poll_lecturer={made.code: made.secret})
    at.query_params["cp_code"] = made.code
    at.run()
    assert translate("poll.state_open", "zh") in everything(at)
    assert at.button(key="cp_next").proto.disabled is False
    at.button(key="cp_next").click().run()
    assert not at.exception, at.exception
    new = at.session_state["cp_code"]
    assert new != made.code and shared_polls().tally(made.code).next_code == new
    assert shared_polls().lecturer_question(new, made.secret).id == "stride.params"
    assert at.button(key="cp_next").proto.disabled is True  # the lesson's last question seen


def test_the_lecturers_link_opens_the_controls_and_leaves_the_address_bar():
    made = shared_polls().create(posed())
    at = app_test("poll", presenter=True)
    at.query_params["cp_code"] = made.code
    at.query_params["cp_key"] = made.secret
    at.run()
    assert not at.exception
    assert "cp_key" not in at.query_params
    assert {"cp_reveal", "cp_close", "cp_next"} <= {b.key for b in at.button}
    at.button(key="cp_close").click().run()
    assert shared_polls().tally(made.code).state == "closed"


# ---------------------------------------------------------------- the students
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_student_answers_once_and_sees_the_reveal(lang):
    made = shared_polls().create(posed())
    at = student(made.code.lower(), lang)  # typed in any case
    assert not at.exception and not at.error
    assert texts(at, "subheader") == [translate("questions.stride.out_size", lang, n=5, k=3, s=2, p=1, d=1)]
    assert texts(at, "caption")[0] == f"👣 {translate('nav.stride', lang)}"  # the lesson it comes from
    assert not {"cp_reveal", "cp_close", "cp_next"} & {b.key for b in at.button}  # no lecturer controls
    at.number_input(key="cp_num").set_value(4).run()  # typed, not sent: the answer is a form (no run of its own in a
    assert shared_polls().tally(made.code).total == 0 and at.button(key="cp_send")  # browser; AppTest drops it)
    at.number_input(key="cp_num").set_value(4)
    at.button(key="cp_send").click().run()  # Send submits what was typed
    assert translate("poll.answered", lang, answer="4") in texts(at, "info")
    assert "cp_send" not in {b.key for b in at.button}  # answered: no second answer
    at.run()
    assert shared_polls().tally(made.code).counts == {"4": 1}
    shared_polls().reveal(made.code, made.secret)
    at.run()
    assert any(e.startswith(translate("poll.wrong", lang, given="4", answer="3")) for e in texts(at, "error"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_student_sees_the_questions_figure_above_the_form(lang):
    """The figure of what the learner saw when the question was asked (the padded input, the kernel, the stride: not
    the output), named and summarised in the learner's language, above the answer form."""
    import json

    made = shared_polls().create(posed())
    at = student(made.code, lang)
    assert not at.exception and not at.warning
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    assert [tr["type"] for tr in spec["data"]] == ["heatmap"]
    assert spec["data"][0]["z"]["shape"].replace(" ", "") == "7,7"  # the input 5 + 2×1 padding, not the 3×3 output
    assert charts[0].proto.alt == translate("poll.figure_name", lang)
    assert translate("poll.figure_window", lang, n=5, p=1, k=3, d=1, s=2) in texts(at, "caption")
    order = [(e.type, getattr(e, "key", None)) for e in flat(at.main)]
    assert order.index(("plotly_chart", "cp_fig")) < order.index(("number_input", "cp_num"))  # above the answer form


def test_a_bad_figure_stored_with_a_poll_is_refused_with_a_message_and_the_question_stays_answerable():
    """A database row could hold anything: a figure state that is not one of its kind's is never drawn."""
    import json

    from explainer.polls import POLLS

    polls = shared_polls()
    made = polls.create(posed())
    for bad in ({"kind": "window", "n": 10 ** 9, "k": 3, "s": 1, "p": 0, "d": 1}, {"kind": "<script>"}, "x" * 50):
        with polls.db.write() as conn:
            conn.execute(POLLS.update().where(POLLS.c.code == made.code).values(
                question=json.dumps({**posed(), "figure": bad})))
        for lang in ("en", "zh"):
            at = student(made.code, lang)
            assert not at.exception
            assert texts(at, "warning") == [translate("poll.figure_bad", lang)]
            assert not at.get("plotly_chart")
    at.number_input(key="cp_num").set_value(3)
    at.button(key="cp_send").click().run()
    assert polls.tally(made.code).counts == {"3": 1}


def test_choice_and_cell_questions_on_a_phone():
    from explainer.maths import xo

    grid = xo.grid_text(xo.X)
    choice, cell = (shared_polls().create(posed(q, {"grid": grid, "filter": 1} if q == "xo.best_cell" else {"grid": grid}))
                    for q in ("xo.winner", "xo.best_cell"))
    at = student(choice.code)
    from tests.pagewalk import undeclared

    assert undeclared(at) == []  # the answer widgets are bare st calls in a form: declared in ui/tables/poll.py
    options = at.radio(key="cp_choice").options
    assert len(options) == 2
    at.radio(key="cp_choice").set_value(at.radio(key="cp_choice").options[0])
    at.button(key="cp_send").click().run()
    assert shared_polls().tally(choice.code).total == 1
    at = student(cell.code)
    assert undeclared(at) == []
    at.number_input(key="cp_row").set_value(1)
    at.number_input(key="cp_col").set_value(2)
    at.button(key="cp_send").click().run()
    assert shared_polls().tally(cell.code).counts == {"1,2": 1}


# ---------------------------------------------------------------- hostile
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_unknown_bad_and_closed_codes_have_clear_messages(lang):
    at = student("AAAAAA", lang)
    assert texts(at, "error") == [translate("errors.poll.unknown", lang, code="AAAAAA")]
    at = student("O0O0O0", lang)  # look-alike characters are never in a code
    assert len(texts(at, "error")) == 1 and "O0O0O0" in texts(at, "error")[0]
    made = shared_polls().create(posed())
    shared_polls().close(made.code, made.secret)
    at = student(made.code, lang)
    assert translate("poll.closed_unanswered", lang) in texts(at, "warning")
    assert "cp_send" not in {b.key for b in at.button}


def test_guessing_codes_is_limited_per_session():
    at = student("")
    for i in range(limits.POLL_GUESSES):
        at.text_input(key="cp_code").input(f"AAAA{ALPHABET[i]}{ALPHABET[i]}").run()
        assert len(texts(at, "error")) == 1
        at.run()  # a rerun with the same wrong code is not another guess
    real = shared_polls().create(posed())
    at.text_input(key="cp_code").input(real.code).run()  # even a right code waits now
    assert not texts(at, "subheader") and len(texts(at, "warning")) == 1
    assert texts(at, "warning")[0].startswith(translate("poll.guesses", "en", s=0)[:20])
    other = student(real.code)  # another session is not held up
    assert texts(other, "subheader")


def test_guessing_codes_is_limited_per_browser_across_its_sessions(monkeypatch):
    import ui.jobs

    monkeypatch.setattr(ui.jobs, "visitor", lambda: "cookie:" + "ab" * 16)  # every session sends this browser's cookie
    monkeypatch.setattr(limits, "POLL_GUESSES", 3)  # fewer fresh sessions to open (the test's cost)
    for i in range(limits.POLL_GUESSES):
        at = student(f"BBBB{ALPHABET[i]}{ALPHABET[-1 - i]}")  # a new tab for every guess: a fresh session each time
        assert len(texts(at, "error")) == 1
    at = student(shared_polls().create(posed()).code)
    assert not texts(at, "subheader") and len(texts(at, "warning")) == 1
    monkeypatch.setattr(ui.jobs, "visitor", lambda: "cookie:" + "cd" * 16)  # another browser is not held up
    assert texts(student(shared_polls().create(posed()).code), "subheader")


def test_off_the_projector_the_lecturer_reads_the_link_in_an_expander():
    """The lecturer's own screen (presenter mode off: a laptop, a phone) shows the link in the collapsed expander; the
    projector (presenter mode) only offers it as a file (``test_the_presenter_asks_the_class_and_reveals``)."""
    made = shared_polls().create(posed())
    at = app_test("poll", _poll_lecturer={made.code: made.secret})
    at.query_params["cp_code"] = made.code
    at.run()
    assert not at.exception and not at.get("download_button")
    assert [c for c in at.code if made.secret in c.value and made.code in c.value]
    assert at.expander[0].label == translate("poll.lecturer_link", "en")


def test_a_student_cannot_use_the_lecturers_controls():
    made = shared_polls().create(posed())
    at = app_test("poll", presenter=True)  # presenter mode alone is no key
    at.query_params["cp_code"] = made.code
    at.query_params["cp_key"] = "x" * 10_000  # a guessed, over-long key
    at.run()
    assert not at.exception
    assert texts(at, "error") == [translate("errors.poll.secret", "en", code=made.code)]
    assert not {"cp_reveal", "cp_close", "cp_next"} & {b.key for b in at.button}
    assert shared_polls().tally(made.code).state == "open"
    # another poll's secret is no key either
    other = shared_polls().create(posed())
    at = app_test("poll")
    at.query_params["cp_code"] = made.code
    at.query_params["cp_key"] = other.secret
    at.run()
    assert not {"cp_reveal", "cp_close", "cp_next"} & {b.key for b in at.button}


def test_odd_answers_are_refused_and_nothing_is_counted_twice():
    from explainer.maths import xo

    question_ = posed("xo.winner", {"grid": xo.grid_text(xo.X)})
    made = shared_polls().create(question_)
    at = student("<b>*AB*</b>")  # markup typed as a code is refused and shown as typed
    errors = texts(at, "error")
    assert len(errors) == 1 and "\\<b\\>\\*AB\\*" in errors[0], errors
    at = student("A" * 5_000)  # an over-long link: refused before it is read, no traceback
    assert not at.exception and not texts(at, "subheader")
    assert shared_polls().tally(made.code).total == 0
    # many sessions answer, each counted once; a session's second send is refused
    for i in range(3):
        s = student(made.code)
        s.radio(key="cp_choice").set_value(s.radio(key="cp_choice").options[i % 2])
        s.button(key="cp_send").click().run()
    assert shared_polls().tally(made.code).total == 3
    from explainer.errors import UserError

    with pytest.raises(UserError, match="answered"):
        shared_polls().answer(made.code, s.session_state["_poll_voter"], question_["choices"][0])
    assert shared_polls().tally(made.code).total == 3


def test_a_page_that_lost_its_answer_shows_it_counted_when_sent_again():
    """A double tap on Send: the second tap's run can interrupt the first after the store counted the answer and
    before the session kept it. Sending again then shows the first answer counted, not a refusal and the form."""
    made = shared_polls().create(posed())
    at = student(made.code)
    at.number_input(key="cp_num").set_value(4)
    at.button(key="cp_send").click().run()
    at.session_state["_poll_answered"] = {}  # what the interrupted run left: counted, not kept
    at.run()
    at.number_input(key="cp_num").set_value(2)
    at.button(key="cp_send").click().run()
    assert not at.exception and translate("errors.poll.answered", "en") not in texts(at, "error")
    assert translate("poll.answered", "en", answer="4") in texts(at, "info")  # the answer counted, not the retyped one
    assert "cp_send" not in {b.key for b in at.button}
    assert shared_polls().tally(made.code).counts == {"4": 1}


def test_a_poll_closed_while_the_form_is_open_counts_nothing():
    made = shared_polls().create(posed())
    at = student(made.code, "zh")
    at.number_input(key="cp_num").set_value(3)
    shared_polls().close(made.code, made.secret)  # while the phone shows the form
    at.button(key="cp_send").click().run()
    assert translate("errors.poll.closed", "zh") in texts(at, "error")
    assert shared_polls().tally(made.code).total == 0


def test_a_database_that_cannot_be_reached_is_a_message(monkeypatch):
    import ui.polls
    from explainer.engine.db import Database
    from explainer.polls import Polls

    made = shared_polls().create(posed())
    down = Polls.__new__(Polls)  # a Polls over a database that refuses every connection (a PostgreSQL that is down)
    down.db, down.clock = Database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"), time.time
    down.max_answers, down.seconds, down.max_open = limits.POLL_ANSWERS, limits.POLL_SECONDS, limits.POLLS_OPEN_MAX
    monkeypatch.setattr(ui.polls, "polls", lambda: down)
    for lang in ("en", "zh"):
        at = student(made.code, lang)
        assert not at.exception
        assert texts(at, "error") == [translate("errors.poll.database", lang)]


def test_number_bars_keep_the_stored_answers_apart_and_every_accepted_bar_is_highlighted():
    """Review of issue 24: number answers are kept to 6 significant digits but the bars were labelled with 2 decimals,
    so 0.5 and 0.501 became one category (two bars drawn on top of each other) and only the first accepted bar was
    highlighted."""
    from explainer.figures.polls import histogram
    from explainer.figures.style import HIGHLIGHT, PALETTE
    from explainer.questions import Posed
    from ui.polls import _histogram

    p = Posed("kernels.edge_value", "kernels", "number", "questions.kernels.edge_value", {}, 0.5, "", {},
              tolerance=0.005)
    labels, counts, right = _histogram(p, {"0.5": 12, "0.501": 3, "-2": 1}, revealed=True)
    assert labels == ["−2", "0.5", "0.501"] and counts == [1, 12, 3] and right == (1, 2)
    fig = histogram(labels, counts, title="T", x_title="x", y_title="y", right=right)
    assert list(fig.data[0].x) == labels and list(fig.data[0].marker.color) == [PALETTE[0], HIGHLIGHT, HIGHLIGHT]
    assert _histogram(p, {"0.5": 1}, revealed=False)[2] == ()


def test_a_lecturer_link_leaves_the_address_bar_even_when_the_database_is_down(monkeypatch):
    """Review of issue 24: the secret was taken off the URL only once the code was found, so with the database down
    (or the code box waiting after guesses) ``cp_key`` stayed on the projector's address bar."""
    import explainer.polls as polls_mod
    from explainer.errors import UserError

    at = app_test("poll")
    at.query_params["cp_code"] = "ABCDEF"
    at.query_params["cp_key"] = "s3cret-key"

    def down(*a, **k):
        raise UserError("errors.poll.database")

    monkeypatch.setattr(polls_mod.Polls, "student_view", down)
    at.run()
    assert not at.exception
    assert "cp_key" not in at.query_params
    assert translate("errors.poll.database", "en") in texts(at, "error")
    assert "s3cret-key" not in everything(at)
