"""Class polls in the app: "Ask the class" on a question card, the projector's view, the students' phones.

``explainer.polls`` holds the polls (in the shared database, so any replica serves any student); this module draws them.

- ``ask_the_class(posed, key)``: presenter mode, on a lesson's question card. Opens a poll of the posed question and
  goes to the poll page as its lecturer: this session keeps the poll's secret (never in the URL, never on the
  projector). The questions the presenter has seen are kept per lesson for "Next question".
- ``page()``: the poll page (``pages/poll.py``). With a code (typed, or the students' link ``/poll?cp_code=CODE``):
  the lecturer's view when this session holds the poll's secret (or came by the lecturer's link
  ``…&cp_key=SECRET``, which is then taken out of the address bar), else the students' view.

Lecturer: the code in large type, the students' link and its QR code (segno, drawn in memory), the live histogram (a
fragment re-run every ``limits.POLL_TICK_S``: one aggregate query), Reveal / Close / Next.
Student: the question, one answer per session (a random id drawn for the session, hashed by ``explainer.polls``), then a
fragment asks every ``limits.POLL_STUDENT_TICK_S`` (one row by its key) until the lecturer reveals.
Wrong or unknown codes are limited per session and per browser (``ui.jobs.visitor``: its ``ce_visitor`` cookie, hashed;
per process):
``limits.POLL_GUESSES`` per ``limits.POLL_GUESS_WINDOW_S``.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
from urllib.parse import urlencode, urlsplit

import streamlit as st

from explainer import limits
from explainer.errors import UserError
from explainer.i18n import translate
from explainer.polls import Polls, normalise_code, shared_polls
from explainer.questions import Posed
from ui.shell import lang, literal, presenter, t, t_error, widget
from ui.tables.poll import TABLE as POLL

PAGE = "pages/poll.py"
ENV_PUBLIC_URL = "EXPLAINER_PUBLIC_URL"  # the app's address as students reach it (else the address the page was opened at)
_LECTURER = "_poll_lecturer"  # code → the lecturer's secret, for the polls this session opened or was given the link of
_SEEN = "_poll_seen"  # lesson → {question id: posed dict}: the questions the presenter has seen (for "Next")
_GIVEN_KEY = "_poll_given_key"  # a lecturer's link's secret, off the URL, until its poll's code is looked up
_ANSWERED = "_poll_answered"  # code → the canonical answer this session gave
_GUESSES = "_poll_guesses"  # times of this session's wrong codes
_LAST_BAD = "_poll_last_bad"  # the last wrong code text (a rerun with it is not another guess)
_KNOWN = "_poll_known"  # codes this session found (looking them up again is not a guess)
_VOTER = "_poll_voter"  # this session's random voter id (explainer.polls keeps only its hash)
_FLASH = "_poll_flash"  # a message from a button's callback, shown once


_STATES = {"open": "poll.state_open", "closed": "poll.state_closed", "revealed": "poll.state_revealed"}


def polls() -> Polls:
    return shared_polls()


# ---------------------------------------------------------------- on a question card
def ask_the_class(posed: dict, key: str) -> None:
    """Presenter mode: the "Ask the class" button under a question card (``posed``: ``Posed.to_dict()``)."""
    ss = st.session_state
    ss.setdefault(_SEEN, {}).setdefault(posed["lesson"], {})[posed["id"]] = posed
    if st.button(t("poll.ask"), key=f"{key}_ask", help=t("poll.ask_help"), icon="📣"):
        try:
            made = polls().create(posed)
        except UserError as exc:
            st.error(t_error(exc))
            return
        ss.setdefault(_LECTURER, {})[made.code] = made.secret
        ss["cp_code"] = made.code
        st.switch_page(PAGE, query_params={"cp_code": made.code})


# ---------------------------------------------------------------- texts of a question
def _text(key: str, params: dict, words: dict) -> str:
    from ui.questions import _text as text

    return text(key, params or {}, words or {})


def _choice_label(q: dict, value) -> str:
    key = (q.get("words") or {}).get(f"choice_{value}")
    if key:
        return translate(key, lang())
    return translate(f"{q['choice_labels']}{value}", lang()) if q.get("choice_labels") else literal(value)


def _label(q: dict, canonical: str) -> str:
    """A stored answer (its canonical text) as the learner reads it."""
    if q["kind"] == "choice":
        for c in q.get("choices") or ():
            if str(c) == canonical:
                return _choice_label(q, c)
        return literal(canonical)
    if q["kind"] == "cell":
        r, c = canonical.split(",")
        return t("questions.cell", row=r, col=c)
    # the stored text itself (6 significant digits, explainer.polls): a shorter format would draw 0.5 and 0.501 as
    # one category, two bars on top of each other; a true minus as everywhere
    try:
        float(canonical)
    except ValueError:
        return literal(canonical)
    return canonical.replace("-", "−")


def _lesson(name: str) -> None:
    """The lesson a question comes from (its icon and title), above the question."""
    from ui.nav import LESSONS

    found = next((lesson for lesson in LESSONS if lesson.name == name), None)
    if found is not None:
        st.caption(f"{found.icon} {t(found.title)}")


def _figure(q: dict, key: str) -> None:
    """The question's figure (``explainer.figures.questions``): what the learner saw when it was asked, never the
    answer. Built from the state stored with the poll, checked first (a database row could hold anything: a bad one
    is a message, the question stays answerable), then kept for every session (``ui.charts.figure``)."""
    d = q.get("figure")
    if d is None:
        return
    from explainer.figures import questions as fq
    from ui.charts import chart, figure

    try:
        d = fq.checked(d)
    except ValueError:
        st.warning(t("poll.figure_bad"))
        return
    k, params = fq.summary(d)
    chart(figure(fq.build, d, title="", x_title=t("common.column"), y_title=t("common.row"),
                 value_label=t("common.value"), height=280),
          key=key, name=t("poll.figure_name"), summary=t(k, **params), table=False,
          config={"displayModeBar": False, "scrollZoom": False})


def _value(q: dict, canonical: str):
    """A stored answer as the value ``Posed.check`` takes."""
    if q["kind"] == "number":
        return float(canonical)
    if q["kind"] == "cell":
        return [int(v) for v in canonical.split(",")]
    return next((c for c in q.get("choices") or () if str(c) == canonical), canonical)


def _answer_text(p: Posed) -> str:
    from ui.questions import _shown

    return _shown(p, p.answer, cells=True)


def _why(p: Posed) -> str:
    return _text(p.explain, p.explain_params, p.words)


# ---------------------------------------------------------------- links and the QR code
def _base() -> str:
    """The poll page's address as students reach it (no query)."""
    public = os.environ.get(ENV_PUBLIC_URL, "").strip().rstrip("/")
    if public:
        return f"{public}/poll"
    url = st.context.url or ""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "/poll"
    path = parts.path.rstrip("/")
    path = path if path.endswith("/poll") else f"{path.rsplit('/', 1)[0] if path.count('/') > 1 else ''}/poll"
    return f"{parts.scheme}://{parts.netloc}{path}"


def _query(**params) -> str:
    """The link's query: the lecturer's language travels with it (a Chinese class reads the poll in Chinese)."""
    from explainer.i18n import DEFAULT_LANGUAGE

    return urlencode({**params, **({"lang": lang()} if lang() != DEFAULT_LANGUAGE else {})})


def student_link(code: str) -> str:
    return f"{_base()}?{_query(cp_code=code)}"


def lecturer_link(code: str, secret: str) -> str:
    return f"{_base()}?{_query(cp_code=code, cp_key=secret)}"


@st.cache_data(max_entries=64, show_spinner=False)
def qr_png(text: str) -> bytes:
    """``text`` as a QR code, a PNG drawn in memory (segno)."""
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=10, border=2, dark="#000000", light="#ffffff")
    return buf.getvalue()


# ---------------------------------------------------------------- guessing codes
def _browser_guesses():
    """Wrong codes per browser (its hashed cookie) in this process: ``{hash: [times]}``, the oldest browsers
    forgotten first beyond ``POLL_GUESS_BROWSERS``."""
    from ui.registry import shared_registry

    return shared_registry("polls.browser_guesses", max_entries=limits.POLL_GUESS_BROWSERS)


def _browser() -> str | None:
    """This browser (``ui.jobs.visitor``: its ``ce_visitor`` cookie, or the logged-in user), hashed; None for a
    client that sends no cookie (then the session's own limit holds alone)."""
    from ui.jobs import visitor

    who = visitor()
    return None if who.startswith("session:") else hashlib.sha256(f"ce-poll-browser:{who}".encode()).hexdigest()[:24]


def _recent(times: list, now: float) -> list:
    return [x for x in times if x > now - limits.POLL_GUESS_WINDOW_S]


def guess_wait() -> int:
    """Seconds until this session (and browser) may try another code; 0: now."""
    now = time.time()
    lists = [_recent(st.session_state.get(_GUESSES, []), now)]
    browser = _browser()
    if browser:
        lists.append(_recent(_browser_guesses().get(browser) or [], now))
    waits = [int(x[-limits.POLL_GUESSES] + limits.POLL_GUESS_WINDOW_S - now) + 1
             for x in lists if len(x) >= limits.POLL_GUESSES]
    return max(waits, default=0)


def _wrong_guess() -> None:
    now = time.time()
    ss = st.session_state
    ss[_GUESSES] = _recent(ss.get(_GUESSES, []), now) + [now]
    browser = _browser()
    if browser:
        _browser_guesses().update(browser, lambda times: _recent(times or [], now)[-limits.POLL_GUESSES:] + [now])


def _session_id() -> str:
    """This session's voter id (one answer per session): drawn once, kept in the session only."""
    import secrets

    return st.session_state.setdefault(_VOTER, secrets.token_urlsafe(18))


# ---------------------------------------------------------------- the page
def page() -> None:
    """The poll page; a database that can't be reached (``errors.poll.database``) is a message, never a traceback."""
    try:
        _page()
    except UserError as exc:
        st.error(t_error(exc))


def _page() -> None:
    st.title(t("poll.title"))
    ss = st.session_state
    given = st.query_params.get("cp_key")
    if given is not None:  # the lecturer's secret leaves the address bar at once (a projector shows it), whatever
        del st.query_params["cp_key"]  # happens next (a database that is down, a guess wait, no code yet)
        ss[_GIVEN_KEY] = given[: limits.POLL_SECRET_CHARS + 1]  # longer is wrong anyway (explainer.polls)
    if ss.get(_FLASH):
        st.error(ss.pop(_FLASH))
    lecturing = presenter() and bool(ss.get(_LECTURER))
    if not lecturing:
        st.markdown(t("poll.intro"))
    import contextlib

    with st.sidebar if lecturing else contextlib.nullcontext():
        typed = widget(st.text_input, t("poll.code"), POLL["cp_code"], help=t("poll.code_help"))
    typed = (typed or "").strip()
    if not typed:
        return
    code = _lookup(typed)
    if code is None:
        return
    secret = _lecturer_secret(code)
    if secret is not None:
        lecturer(code, secret)
    else:
        student(code)


def _lookup(typed: str) -> str | None:
    """The poll code ``typed`` names, or None (the reason shown); wrong codes count against the guess limit."""
    ss = st.session_state
    try:
        code = normalise_code(typed)
    except UserError as exc:
        code, error = None, exc
    else:
        if code in ss.get(_KNOWN, ()) or code in ss.get(_LECTURER, {}):
            return code
        error = None
    if ss.get(_LAST_BAD) == typed:  # the same wrong code on a rerun: not another guess
        st.error(t_error(error) if error else t_error(UserError("errors.poll.unknown", code=code)))
        return None
    wait = guess_wait()
    if wait:
        st.warning(t("poll.guesses", s=wait))
        return None
    if error is None:
        try:
            polls().student_view(code)
        except UserError as exc:
            error = exc
    if error is not None:
        if error.key in ("errors.poll.code_bad", "errors.poll.unknown"):  # a database that is down is no guess
            ss[_LAST_BAD] = typed
            _wrong_guess()
        st.error(t_error(error))
        return None
    ss.setdefault(_KNOWN, set()).add(code)
    return code


def _lecturer_secret(code: str) -> str | None:
    """This session's secret of poll ``code``: kept, or given once by the lecturer's link (then off the URL)."""
    ss = st.session_state
    given = ss.pop(_GIVEN_KEY, None)  # taken off the URL by _page
    if given is not None:
        try:
            polls().lecturer_question(code, given)
        except UserError as exc:
            st.error(t_error(exc))
        else:
            ss.setdefault(_LECTURER, {})[code] = given
    return ss.get(_LECTURER, {}).get(code)


# ---------------------------------------------------------------- the lecturer
def _control(action: str, code: str, secret: str) -> None:
    """A lecturer's button (in its callback): reveal, close or next."""
    ss = st.session_state
    try:
        if action == "reveal":
            polls().reveal(code, secret)
        elif action == "close":
            polls().close(code, secret)
        else:
            made = polls().next(code, secret, _next_question(code, secret))
            ss.setdefault(_LECTURER, {})[made.code] = made.secret
            ss.setdefault(_KNOWN, set()).add(made.code)
            ss["cp_code"] = made.code
    except (UserError, ValueError) as exc:
        ss[_FLASH] = t_error(exc)


def _next_question(code: str, secret: str) -> dict | None:
    """The question after this poll's in its lesson, among those the presenter has seen (None: none)."""
    try:
        now = polls().lecturer_question(code, secret)
    except UserError:
        return None
    seen = list(st.session_state.get(_SEEN, {}).get(now.lesson, {}).values())
    ids = [q["id"] for q in seen]
    if now.id in ids and ids.index(now.id) + 1 < len(ids):
        return seen[ids.index(now.id) + 1]
    return None


def lecturer(code: str, secret: str) -> None:
    try:
        p = polls().lecturer_question(code, secret)
    except UserError as exc:
        st.error(t_error(exc))
        return
    _lesson(p.lesson)
    st.subheader(_text(p.prompt, p.params, p.words))
    state = polls().tally(code).state  # the controls on the projector's first screen, above the code and the chart
    b1, b2, b3 = st.columns(3)
    b1.button(t("poll.reveal"), key="cp_reveal", type="primary", on_click=_control, args=("reveal", code, secret),
              icon="👁️", disabled=state == "revealed")
    b2.button(t("poll.close"), key="cp_close", on_click=_control, args=("close", code, secret), icon="⏹️",
              disabled=state != "open")
    has_next = _next_question(code, secret) is not None
    b3.button(t("poll.next"), key="cp_next", on_click=_control, args=("next", code, secret), disabled=not has_next,
              icon="⏭️", help=None if has_next else t("poll.next_none"))
    link = student_link(code)
    shown = p.to_dict()
    if shown.get("figure") is not None:
        left, middle, right = st.columns([5, 3, 4] if presenter() else [1, 1, 1], gap="medium")
        with middle:
            _figure(shown, "cp_fig")
    else:
        left, right = st.columns([2, 3] if presenter() else [1, 1], gap="large")
    with left:
        st.markdown(f"<div style='font-size:{'96px' if presenter() else '48px'};font-weight:700;"
                    f"letter-spacing:0.12em;line-height:1.1' aria-label='{code}'>{code}</div>", unsafe_allow_html=True)
        st.markdown(t("poll.join_at", link=f"`{link.replace('`', '')}`"))  # code: shown as it is, never a link
        st.image(qr_png(link), width=320 if presenter() else 220, caption=t("poll.qr_name"))
    with right:
        _live(code, p)
    if presenter():  # the projector never draws the secret, not even in a collapsed expander one click from the room:
        # the link goes into a small file the lecturer saves (and opens on another device)
        st.download_button(t("poll.lecturer_link_save"), data=lecturer_link(code, secret) + "\n",
                           file_name=f"poll-{code}-lecturer-link.txt", mime="text/plain", key="cp_lecturer_file",
                           icon=":material/key:", help=t("poll.lecturer_link_help"), on_click="ignore")
    else:
        with st.expander(t("poll.lecturer_link")):
            st.caption(t("poll.lecturer_link_help"))
            st.code(lecturer_link(code, secret), language=None)


def _histogram(p: Posed, counts: dict, revealed: bool):
    """The bars (labels in a stable order) and the indices of the right answer's bars once revealed."""
    q = p.to_dict()
    if p.kind == "choice":
        keys = [str(c) for c in p.choices]
    elif p.kind == "number":
        keys = sorted(counts, key=float)
    else:
        keys = sorted(counts, key=lambda s: [int(v) for v in s.split(",")])
    right = ()
    if revealed:  # every bar the answer's tolerance accepts
        right = tuple(i for i, k in enumerate(keys) if p.check(_value(q, k)))
    return [_label(q, k) for k in keys], [counts.get(k, 0) for k in keys], right


@st.fragment(run_every=limits.POLL_TICK_S)
def _live(code: str, p: Posed) -> None:
    """The projector's live part: the state, the histogram, the answer once revealed (one aggregate query a tick)."""
    try:
        tally = polls().tally(code)
    except UserError as exc:
        st.error(t_error(exc))
        return
    st.markdown(f"**{t('poll.answers', n=tally.total)}** · {t(_STATES[tally.state])}")
    if tally.state == "revealed":  # above the chart: on the projector's first screen
        st.success(t("poll.shown", answer=_answer_text(p)) + " " + _why(p))
    labels, counts, right = _histogram(p, tally.counts, tally.state == "revealed")
    if labels:
        from explainer.figures.polls import histogram
        from ui.charts import chart, figure

        # built once per histogram state for every session (ui.charts.figure): a tick with no new answer costs a lookup
        chart(figure(histogram, labels, counts, title=t("poll.histogram"), x_title=t("questions.your_answer"),
                     y_title=t("poll.count"), right=right),
              key="cp_hist", name=t("poll.histogram"), config={"displayModeBar": False}, table=False)
    else:
        st.info(t("poll.histogram_none"))


# ---------------------------------------------------------------- the students
def _send(code: str, q: dict) -> None:
    """The student's "Send" (in its callback)."""
    ss = st.session_state
    if q["kind"] == "number":
        given = ss.get("cp_num")
    elif q["kind"] == "choice":
        given = ss.get("cp_choice")
    else:
        r, c = ss.get("cp_row"), ss.get("cp_col")
        given = None if r is None or c is None else [int(r), int(c)]
    if given is None:
        return
    try:
        ss.setdefault(_ANSWERED, {})[code] = polls().answer(code, _session_id(), given)
    except UserError as exc:
        # a double tap: the first tap's run counted the answer, then the second tap's run interrupted it before this
        # session kept it; the page shows the answer counted (read back), not a refusal and the form again
        try:
            kept = polls().given(code, _session_id()) if exc.key == "errors.poll.answered" else None
        except UserError:  # the database went away in between: say what the send met
            kept = None
        if kept is None:
            ss[_FLASH] = t_error(exc)
        else:
            ss.setdefault(_ANSWERED, {})[code] = kept


def _student_view(code: str):
    """The poll as a student sees it, or None after saying why not (unknown code, closed …)."""
    try:
        return polls().student_view(code)
    except UserError as exc:
        st.error(t_error(exc))
        return None


def student(code: str) -> None:
    view = _student_view(code)
    if view is None:
        return
    q = view.question
    _lesson(q["lesson"])
    st.subheader(_text(q["prompt"], q.get("params"), q.get("words")))
    _figure(q, "cp_fig")  # above the answer form
    answered = st.session_state.get(_ANSWERED, {}).get(code)
    if answered is not None or view.state != "open":
        _waiting(code)
        return
    label = t("questions.your_answer")
    # one form: typing or choosing the answer is no rerun of its own (a class answering at once costs one run per
    # student, Send, besides opening: bench/polls.py --class); Enter does not send (a phone's keyboard "Go" mid-number)
    with st.form("cp_form", border=False, enter_to_submit=False):
        if q["kind"] == "number":
            st.number_input(label, value=None, key="cp_num", format="%g", min_value=-float(limits.POLL_NUMBER_ABS),
                            max_value=float(limits.POLL_NUMBER_ABS))
        elif q["kind"] == "choice":
            st.radio(label, [str(c) for c in q["choices"]], index=None, key="cp_choice",
                     format_func=lambda v: _label(q, v))
        else:
            rows, cols = q["grid"]
            st.caption(t("poll.cell_how"))  # on a phone the cell is typed, not clicked
            c1, c2 = st.columns(2)
            c1.number_input(t("common.row"), min_value=0, max_value=rows - 1, value=None, step=1, key="cp_row")
            c2.number_input(t("common.column"), min_value=0, max_value=cols - 1, value=None, step=1, key="cp_col")
        st.form_submit_button(t("poll.answer"), key="cp_send", type="primary", on_click=_send, args=(code, q),
                              icon="📨")


@st.fragment(run_every=limits.POLL_STUDENT_TICK_S)
def _waiting(code: str) -> None:
    """After answering (or once the poll is closed): wait for the reveal, then show it (one row a tick)."""
    view = _student_view(code)
    if view is None:
        return
    answered = st.session_state.get(_ANSWERED, {}).get(code)
    q = view.question
    if view.state == "revealed":
        p = Posed.from_dict(q)
        if answered is None:
            st.info(t("poll.shown", answer=_answer_text(p)) + " " + _why(p))
        elif p.check(_value(q, answered)):
            st.success(t("poll.right", answer=_answer_text(p)) + " " + _why(p))
        else:
            st.error(t("poll.wrong", given=_label(q, answered), answer=_answer_text(p)) + " " + _why(p))
    elif answered is not None:
        st.info(t("poll.answered", answer=_label(q, answered)) if view.state == "open" else t("poll.answered_closed"))
    else:
        st.warning(t("poll.closed_unanswered"))
    if view.next_code:
        st.info(t("poll.next_poll"))
        st.page_link(PAGE, label=t("poll.open_next"), icon="⏭️", query_params={"cp_code": view.next_code})
