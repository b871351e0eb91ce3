"""Class polls: a lecturer asks the room one of the lessons' questions, students answer on their phones.

A poll holds one posed question (``explainer.questions.Posed.to_dict()``). ``Polls.create(question)`` opens it and
returns its ``code`` (6 characters of ``ALPHABET``: no 0/O, 1/I/L, so it reads off a projector; drawn with
``secrets``, unique by the database's constraint) and the lecturer's ``secret`` (``secrets.token_urlsafe``; only its
SHA-256 is kept, compared in constant time). Students need only the code: ``student_view(code)`` (the question,
without its answer until the reveal) and ``answer(code, session_id, value)``. The lecturer's controls —
``reveal``, ``close``, ``next`` — need the secret. ``tally(code)`` is the live histogram, one aggregate query.

Rules, each enforced by the database so that several replicas (processes, machines) agree:

- one answer per session: a unique constraint on (poll, the session's hash), not a check-then-insert; the
  session's id itself is never stored;
- a poll takes answers until it is closed, revealed, ``limits.POLL_SECONDS`` old, or full (``limits.POLL_ANSWERS``):
  the answer's transaction first bumps the poll's counter with an ``UPDATE … WHERE`` those conditions hold (a row
  lock on PostgreSQL, the write lock on SQLite), then inserts; a refused insert rolls the bump back. Nothing is
  counted twice, and the cap is exact under any concurrency;
- an answer is validated against the question's kind before it is stored: a number within
  ±``limits.POLL_NUMBER_ABS``, one of the choices, a cell inside the grid; at most ``limits.POLL_ANSWER_CHARS`` as
  sent; stored in one canonical text (``"3"``, ``"relu"``, ``"2,1"``), which is what the histogram counts.

Every refusal is a ``UserError`` with its own catalogue key (``errors.poll.*``); a database that can't be reached
is ``errors.poll.database``. Polls older than ``limits.POLL_KEPT_SECONDS`` are deleted with their answers when the
next poll is created.

    polls = Polls()                                   # the shared database (explainer.engine.db)
    made = polls.create(question("stride.out_size").pose(state).to_dict())
    polls.answer(made.code, session_id, "3")
    polls.tally(made.code).counts                     # {"3": 1}
    polls.reveal(made.code, made.secret)
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import sqlalchemy as sa

from explainer import limits
from explainer.engine.db import Database, Step, shared
from explainer.errors import UserError
from explainer.questions import Posed

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 6
_CODE = re.compile(f"[{ALPHABET}]{{{CODE_LENGTH}}}")
_HIDDEN_UNTIL_REVEAL = ("answer", "explain", "explain_params")

METADATA = sa.MetaData()
POLLS = sa.Table(
    "polls", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(CODE_LENGTH), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("opened", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("closed", sa.Float, nullable=True),
    sa.Column("revealed", sa.Float, nullable=True),
    sa.Column("answers", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_code", sa.String(CODE_LENGTH), nullable=True),
)
ANSWERS = sa.Table(
    "poll_answers", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("poll_id", sa.Integer, sa.ForeignKey("polls.id", ondelete="CASCADE"), nullable=False),
    sa.Column("voter", sa.String(32), nullable=False),
    sa.Column("value", sa.String(limits.POLL_ANSWER_CHARS), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("poll_id", "voter", name="uq_poll_answers_voter"),
    sa.Index("ix_poll_answers_value", "poll_id", "value"),
)
STEPS = [Step(1, lambda conn: METADATA.create_all(conn, tables=[POLLS, ANSWERS]))]


@dataclass(frozen=True)
class Created:
    """A new poll: the code students type, the lecturer's secret (shown once, in the lecturer's link)."""

    code: str
    secret: str
    expires: float


@dataclass(frozen=True)
class Tally:
    """A poll's state and histogram: ``counts`` maps each canonical answer to how many gave it."""

    code: str
    kind: str
    state: str  # "open", "closed" (closed, expired or full) or "revealed"
    total: int
    counts: dict = field(default_factory=dict)
    opened: float = 0.0
    expires: float = 0.0
    next_code: str | None = None


@dataclass(frozen=True)
class StudentView:
    """What a student's phone shows: the question (its answer and explanation only after the reveal)."""

    code: str
    state: str
    question: dict
    next_code: str | None = None


def normalise_code(text) -> str:
    """A code as typed (any case, spaces or dashes) → its canonical form; ``UserError`` when it can't be one."""
    raw = str(text if text is not None else "")[: 4 * CODE_LENGTH]
    code = re.sub(r"[\s-]", "", raw).upper()
    if not _CODE.fullmatch(code):
        raise UserError("errors.poll.code_bad", code=raw.strip()[: 2 * CODE_LENGTH], n=CODE_LENGTH)
    return code


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def _hash(secret: str) -> str:
    return hashlib.sha256(f"convolution-explainer-poll:{secret}".encode()).hexdigest()


def _voter(poll_id: int, session_id: str) -> str:
    return hashlib.sha256(f"convolution-explainer-voter:{poll_id}:{session_id}".encode()).hexdigest()[:32]


def _check_session(session_id) -> None:
    if not isinstance(session_id, str) or not 0 < len(session_id) <= limits.POLL_SESSION_CHARS:
        raise ValueError("a session id is 1 to POLL_SESSION_CHARS characters")


def _number_text(x: float) -> str:
    if x == int(x):
        return str(int(x))
    return format(x, ".6g")


def canonical_answer(question: dict, given) -> str:
    """``given`` as the text stored and counted for ``question`` (a ``Posed.to_dict()``); ``UserError`` when it
    isn't an answer to it."""
    if isinstance(given, str) and len(given) > limits.POLL_ANSWER_CHARS:
        raise UserError("errors.text_too_long", n=len(given), max=limits.POLL_ANSWER_CHARS)
    small = given is None or isinstance(given, (bool, int, float)) or (isinstance(given, (list, tuple)) and len(given) <= 4)
    shown = given if isinstance(given, str) else json.dumps(given, default=str)[: limits.POLL_ANSWER_CHARS] if small else "…"
    kind = question["kind"]
    if kind == "number":
        try:
            if isinstance(given, bool) or not isinstance(given, (int, float, str)):
                raise TypeError
            x = float(given.strip() if isinstance(given, str) else given)
        except (TypeError, ValueError, OverflowError):
            x = math.nan
        if not math.isfinite(x) or abs(x) > limits.POLL_NUMBER_ABS:
            raise UserError("errors.poll.answer_number", text=shown, lo=-limits.POLL_NUMBER_ABS, hi=limits.POLL_NUMBER_ABS)
        return _number_text(x + 0.0)
    if kind == "choice":
        choices = list(question.get("choices") or [])
        for c in choices:
            if not isinstance(given, bool) and (given == c or (isinstance(given, str) and given.strip() == str(c))):
                return str(c)
        raise UserError("errors.poll.answer_choice", text=shown, choices=" / ".join(map(str, choices)))
    if kind == "cell":
        rows, cols = question["grid"]
        try:
            if isinstance(given, (list, tuple)) and len(given) != 2:
                raise ValueError
            parts = re.split(r"[\s,;]+", given.strip()) if isinstance(given, str) else list(given)
            if len(parts) != 2 or any(isinstance(p, (bool, float)) for p in parts):
                raise ValueError
            r, c = (int(p) for p in parts)
        except (TypeError, ValueError):
            r = c = -1
        if not (0 <= r < rows and 0 <= c < cols):
            raise UserError("errors.poll.answer_cell", text=shown, rows=rows, cols=cols)
        return f"{r},{c}"
    raise ValueError("unknown question kind")


def check_question(question: dict) -> tuple[Posed, str]:
    """The question as a ``Posed`` and its JSON, or ``ValueError`` (the app built it: not a learner's mistake)."""
    posed = Posed.from_dict(question)
    text = json.dumps(posed.to_dict(), ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > limits.POLL_QUESTION_BYTES:
        raise ValueError("question too large for a poll")
    if posed.kind == "choice" and not 0 < len(posed.choices) <= limits.POLL_CHOICES_MAX:
        raise ValueError("a choice poll needs 1 to POLL_CHOICES_MAX choices")
    if posed.figure is not None:
        from explainer.figures.questions import checked

        checked(posed.figure)
    if posed.kind == "cell":
        if posed.grid is None or len(posed.grid) != 2 or not all(0 < int(n) <= limits.POLL_GRID_SIDE for n in posed.grid):
            raise ValueError("a cell poll needs a grid of 1 to POLL_GRID_SIDE rows and columns")
    return posed, text


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """A database that is down or locked for too long is a clear message, not a traceback."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
        raise UserError("errors.poll.database") from exc


class Polls:
    """Polls in one database (``db``: an ``explainer.engine.db.Database``; default the shared one). ``clock`` gives
    the time (tests move it); ``max_answers`` and ``seconds`` default to the limits."""

    def __init__(self, db: Database | None = None, *, clock: Callable[[], float] = time.time,
                 max_answers: int = limits.POLL_ANSWERS, seconds: float = limits.POLL_SECONDS,
                 max_open: int = limits.POLLS_OPEN_MAX):
        self.db = db or shared()
        self.clock = clock
        self.max_answers, self.seconds, self.max_open = int(max_answers), float(seconds), int(max_open)
        with _reachable():
            self.db.migrate("polls", STEPS)

    # ------------------------------------------------------------ the lecturer
    def create(self, question: dict) -> Created:
        """Open a poll of ``question`` (``Posed.to_dict()``)."""
        posed, text = check_question(question)
        secret = secrets.token_urlsafe(24)
        with _reachable(), self.db.write() as conn:
            code, expires = self._open(conn, posed.kind, text, _hash(secret))
        return Created(code, secret, expires)

    def _open(self, conn, kind: str, text: str, secret_hash: str) -> tuple[str, float]:
        now = self.clock()
        self._purge(conn, now)
        open_now = conn.execute(sa.select(sa.func.count()).select_from(POLLS).where(
            POLLS.c.closed.is_(None), POLLS.c.expires > now)).scalar_one()
        if open_now >= self.max_open:
            raise UserError("errors.poll.too_many", n=open_now)
        for _ in range(8):  # a code already taken (about 1 in 10⁸ per kept poll): draw again
            code = new_code()
            try:
                with conn.begin_nested():
                    conn.execute(POLLS.insert().values(code=code, secret_hash=secret_hash, kind=kind, question=text,
                                                       opened=now, expires=now + self.seconds))
                return code, now + self.seconds
            except sa.exc.IntegrityError:
                continue
        raise RuntimeError("could not draw a free poll code")

    def _purge(self, conn, now: float) -> None:
        old = sa.select(POLLS.c.id).where(POLLS.c.opened < now - limits.POLL_KEPT_SECONDS).scalar_subquery()
        conn.execute(ANSWERS.delete().where(ANSWERS.c.poll_id.in_(old)))
        conn.execute(POLLS.delete().where(POLLS.c.opened < now - limits.POLL_KEPT_SECONDS))

    def _authorised(self, conn, code: str, secret) -> sa.Row:
        row = conn.execute(sa.select(POLLS).where(POLLS.c.code == code)).first()
        if row is None:
            raise UserError("errors.poll.unknown", code=code)
        given = secret if isinstance(secret, str) and len(secret) <= limits.POLL_SECRET_CHARS else ""
        if not hmac.compare_digest(_hash(given), row.secret_hash):
            raise UserError("errors.poll.secret", code=code)
        return row

    def reveal(self, code: str, secret: str) -> Tally:
        """Show the answer on every student's screen (and take no more answers)."""
        code = normalise_code(code)
        with _reachable():
            with self.db.write() as conn:
                self._authorised(conn, code, secret)
                now = self.clock()
                conn.execute(POLLS.update().where(POLLS.c.code == code).values(
                    revealed=sa.func.coalesce(POLLS.c.revealed, now), closed=sa.func.coalesce(POLLS.c.closed, now)))
        return self.tally(code)

    def close(self, code: str, secret: str) -> Tally:
        """Take no more answers (the answer stays hidden until ``reveal``)."""
        code = normalise_code(code)
        with _reachable():
            with self.db.write() as conn:
                self._authorised(conn, code, secret)
                conn.execute(POLLS.update().where(POLLS.c.code == code).values(
                    closed=sa.func.coalesce(POLLS.c.closed, self.clock())))
        return self.tally(code)

    def next(self, code: str, secret: str, question: dict) -> Created:
        """Close this poll and open the next question under the same lecturer's secret; students on this poll's
        code are shown the new code (``next_code``). Returns the new poll (its ``secret`` is the one given)."""
        code = normalise_code(code)
        posed, text = check_question(question)
        with _reachable():
            with self.db.write() as conn:
                row = self._authorised(conn, code, secret)
                new, expires = self._open(conn, posed.kind, text, row.secret_hash)
                conn.execute(POLLS.update().where(POLLS.c.code == code).values(
                    closed=sa.func.coalesce(POLLS.c.closed, self.clock()), next_code=new))
        return Created(new, secret, expires)

    def lecturer_question(self, code: str, secret: str) -> Posed:
        """The whole question, answer included, for the lecturer's screen."""
        code = normalise_code(code)
        with _reachable():
            with self.db.read() as conn:
                row = self._authorised(conn, code, secret)
        return Posed.from_dict(json.loads(row.question))

    # ------------------------------------------------------------ everyone
    def tally(self, code: str) -> Tally:
        """The poll's state and histogram in one aggregate query (the presenter polls it every 2 s)."""
        code = normalise_code(code)
        p = POLLS.c
        cols = (p.code, p.kind, p.opened, p.expires, p.closed, p.revealed, p.answers, p.next_code)
        query = (sa.select(*cols, ANSWERS.c.value, sa.func.count(ANSWERS.c.id))
                 .select_from(POLLS.outerjoin(ANSWERS, ANSWERS.c.poll_id == p.id))
                 .where(p.code == code).group_by(p.id, *cols, ANSWERS.c.value))
        with _reachable():
            with self.db.read() as conn:
                rows = conn.execute(query).all()
        if not rows:
            raise UserError("errors.poll.unknown", code=code)
        first = rows[0]
        counts = {r[-2]: int(r[-1]) for r in rows if r[-2] is not None}
        return Tally(code, first.kind, self._state(first), sum(counts.values()), counts, first.opened, first.expires,
                     first.next_code)

    def _state(self, row) -> str:
        if row.revealed is not None:
            return "revealed"
        if row.closed is not None or row.expires <= self.clock() or row.answers >= self.max_answers:
            return "closed"
        return "open"

    def student_view(self, code: str) -> StudentView:
        """The question for a student's phone; its answer and explanation only once revealed."""
        code = normalise_code(code)
        with _reachable():
            with self.db.read() as conn:
                row = conn.execute(sa.select(POLLS).where(POLLS.c.code == code)).first()
        if row is None:
            raise UserError("errors.poll.unknown", code=code)
        question = json.loads(row.question)
        state = self._state(row)
        if state != "revealed":
            question = {k: v for k, v in question.items() if k not in _HIDDEN_UNTIL_REVEAL}
        return StudentView(code, state, question, row.next_code)

    def answer(self, code: str, session_id: str, given) -> str:
        """Count ``session_id``'s answer ``given`` (once per session); returns the canonical answer counted."""
        code = normalise_code(code)
        _check_session(session_id)
        with _reachable():
            with self.db.read() as conn:
                row = conn.execute(sa.select(POLLS.c.id, POLLS.c.question).where(POLLS.c.code == code)).first()
            if row is None:
                raise UserError("errors.poll.unknown", code=code)
            value = canonical_answer(json.loads(row.question), given)
            now = self.clock()
            try:
                with self.db.write() as conn:
                    bumped = conn.execute(POLLS.update().where(
                        POLLS.c.id == row.id, POLLS.c.closed.is_(None), POLLS.c.expires > now,
                        POLLS.c.answers < self.max_answers).values(answers=POLLS.c.answers + 1)).rowcount
                    if bumped != 1:
                        self._refused(conn, row.id, now)
                    conn.execute(ANSWERS.insert().values(poll_id=row.id, voter=_voter(row.id, session_id), value=value,
                                                         created=now))
            except sa.exc.IntegrityError:
                raise UserError("errors.poll.answered") from None
        return value

    def given(self, code: str, session_id: str) -> str | None:
        """The canonical answer ``session_id`` gave to poll ``code``, or None (a page that lost its answer, after a
        double tap whose second run interrupted the first, shows it again from here instead of a refusal)."""
        code = normalise_code(code)
        _check_session(session_id)
        with _reachable():
            with self.db.read() as conn:
                row = conn.execute(sa.select(POLLS.c.id).where(POLLS.c.code == code)).first()
                if row is None:
                    return None
                value = conn.execute(sa.select(ANSWERS.c.value).where(
                    ANSWERS.c.poll_id == row.id, ANSWERS.c.voter == _voter(row.id, session_id))).scalar()
        return value

    def _refused(self, conn, poll_id: int, now: float):
        row = conn.execute(sa.select(POLLS.c.closed, POLLS.c.expires, POLLS.c.answers).where(POLLS.c.id == poll_id)).first()
        if row is None:
            raise UserError("errors.poll.gone")
        if row.closed is not None or row.expires <= now:
            raise UserError("errors.poll.closed")
        raise UserError("errors.poll.full", max=self.max_answers)


_SHARED: dict[str, Polls] = {}
_SHARED_LOCK = threading.Lock()  # two first requests at once make one Polls (one schema check), not two


def shared_polls(db: Database | None = None) -> Polls:
    """One ``Polls`` per database in this process (the schema is checked once, when it is first made)."""
    db = db or shared()
    with _SHARED_LOCK:
        if db.url not in _SHARED:
            _SHARED[db.url] = Polls(db)
        return _SHARED[db.url]
