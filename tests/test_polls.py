"""Class polls (explainer/polls.py) on SQLite and on a real PostgreSQL: codes, secrets, answers, limits, concurrency."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from explainer import limits, polls as pm
from explainer.engine.db import Database
from explainer.errors import UserError, message
from explainer.maths import xo
from explainer.polls import Polls
from explainer.questions import question


def _number():
    return question("stride.out_size").pose({"n": 5, "k": 3, "s": 2, "p": 1, "d": 1}).to_dict()  # answer 3


def _choice():
    return question("xo.winner").pose({"grid": xo.grid_text(xo.X)}).to_dict()  # choices X, O


def _cell():
    return question("xo.best_cell").pose({"grid": xo.grid_text(xo.X), "filter": 0}).to_dict()


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def polls(db_url):
    p = Polls(Database(db_url), clock=Clock())
    yield p
    p.db.dispose()


def _key(fn, *args):
    with pytest.raises(UserError) as e:
        fn(*args)
    return e.value.key


def test_a_poll_has_a_readable_code_and_a_separate_secret(polls):
    made = polls.create(_number())
    assert len(made.code) == 6 and set(made.code) <= set(pm.ALPHABET)
    assert len(made.secret) >= 32 and made.code not in made.secret
    assert made.expires == polls.clock() + limits.POLL_SECONDS
    t = polls.tally(made.code)
    assert (t.state, t.total, t.counts, t.kind) == ("open", 0, {}, "number")
    assert polls.lecturer_question(made.code, made.secret).answer == 3
    with polls.db.read() as conn:  # the secret itself is never stored
        stored = conn.execute(sa.select(pm.POLLS.c.secret_hash)).scalar_one()
    assert made.secret not in stored


def test_codes_avoid_lookalike_characters_and_are_random():
    assert not set("0O1IL") & set(pm.ALPHABET) and len(set(pm.ALPHABET)) == len(pm.ALPHABET) == 31
    codes = {pm.new_code() for _ in range(3000)}
    assert len(codes) == 3000 and set("".join(codes)) == set(pm.ALPHABET)
    assert pm.normalise_code(" abc-def ") == "ABCDEF"
    for bad in ("", "ABCDE", "ABCDEFG", "ABCDE0", "ABCDEI", "ABC DEL", "x" * 10_000, None, "ＡＢＣＤＥＦ"):
        assert _key(pm.normalise_code, bad) == "errors.poll.code_bad"


def test_guessed_and_unknown_codes_are_refused_clearly(polls):
    polls.create(_number())
    for fn in (polls.tally, polls.student_view):
        assert _key(fn, "ZZZZZZ") == "errors.poll.unknown"
        assert _key(fn, "0000") == "errors.poll.code_bad"
    assert _key(polls.answer, "ZZZZZZ", "s1", "3") == "errors.poll.unknown"
    assert _key(polls.reveal, "ZZZZZZ", "x") == "errors.poll.unknown"


def test_answers_are_counted_once_per_session_in_their_canonical_form(polls):
    made = polls.create(_number())
    assert polls.answer(made.code, "s1", " 3 ") == "3"
    assert polls.answer(made.code.lower(), "s2", 3.0) == "3"
    assert polls.answer(made.code, "s3", "2.5") == "2.5"
    assert polls.answer(made.code, "s4", "-0") == "0"
    assert _key(polls.answer, made.code, "s1", "4") == "errors.poll.answered"
    assert polls.given(made.code.lower(), "s1") == "3" and polls.given(made.code, "s9") is None  # read back
    assert polls.given("ZZZZZZ", "s1") is None
    t = polls.tally(made.code)
    assert t.counts == {"3": 2, "2.5": 1, "0": 1} and t.total == 4
    with polls.db.read() as conn:  # the session id itself is never stored
        voters = conn.execute(sa.select(pm.ANSWERS.c.voter)).scalars().all()
        assert conn.execute(sa.select(pm.POLLS.c.answers)).scalar_one() == 4
    assert len(voters) == 4 and not {"s1", "s2", "s3", "s4"} & set(voters)


def test_bad_number_answers_are_refused_and_not_counted(polls):
    made = polls.create(_number())
    for given in ("three", "", "nan", "inf", "1e10", True, None, [3], float("nan"), -2e9, "3" * 65):
        key = _key(polls.answer, made.code, "s1", given)
        assert key == ("errors.text_too_long" if given == "3" * 65 else "errors.poll.answer_number"), given
    assert polls.tally(made.code).total == 0
    assert polls.answer(made.code, "s1", "3") == "3"  # a refused answer doesn't use up the session's one answer


def test_choice_and_cell_answers_are_checked_against_the_question(polls):
    ch = polls.create(_choice())
    assert polls.answer(ch.code, "s1", "X") == "X" and polls.answer(ch.code, "s2", " O") == "O"
    for bad in ("x", "Z", 0, True, "X; DROP TABLE polls", ["X"]):
        assert _key(polls.answer, ch.code, "s3", bad) == "errors.poll.answer_choice"
    cell = polls.create(_cell())
    rows, cols = polls.student_view(cell.code).question["grid"]
    assert polls.answer(cell.code, "s1", [0, cols - 1]) == f"0,{cols - 1}"
    assert polls.answer(cell.code, "s2", f"{rows - 1}, 0") == f"{rows - 1},0"
    for bad in ([rows, 0], [0, -1], "1", "1,2,3", [1.5, 2], "a,b", {"r": 1}, [True, 0], [0] * 1_000_000, 7, None):
        assert _key(polls.answer, cell.code, "s3", bad) == "errors.poll.answer_cell"
    assert polls.tally(cell.code).counts == {f"0,{cols - 1}": 1, f"{rows - 1},0": 1}


def test_only_the_lecturers_secret_reveals_closes_or_moves_on(polls):
    made = polls.create(_number())
    for wrong in ("", made.code, made.secret[:-1], made.secret + "x", "x" * 10_000, None, 42):
        assert _key(polls.reveal, made.code, wrong) == "errors.poll.secret"
        assert _key(polls.close, made.code, wrong) == "errors.poll.secret"
        assert _key(polls.next, made.code, wrong, _choice()) == "errors.poll.secret"
        assert _key(polls.lecturer_question, made.code, wrong) == "errors.poll.secret"
    other = polls.create(_number())
    assert _key(polls.reveal, made.code, other.secret) == "errors.poll.secret"  # another poll's secret
    assert polls.tally(made.code).state == "open"


def test_the_answer_stays_hidden_from_students_until_the_reveal(polls):
    made = polls.create(_number())
    view = polls.student_view(made.code)
    assert view.state == "open" and view.question["prompt"] == "questions.stride.out_size"
    assert not {"answer", "explain", "explain_params"} & set(view.question)
    polls.answer(made.code, "s1", "3")
    t = polls.reveal(made.code, made.secret)
    assert t.state == "revealed" and t.counts == {"3": 1}
    view = polls.student_view(made.code)
    assert view.state == "revealed" and view.question["answer"] == 3 and "explain_params" in view.question
    assert _key(polls.answer, made.code, "s2", "3") == "errors.poll.closed"  # revealed: no more answers


def test_a_closed_poll_takes_no_answers(polls):
    made = polls.create(_number())
    polls.answer(made.code, "s1", "4")
    assert polls.close(made.code, made.secret).state == "closed"
    assert _key(polls.answer, made.code, "s2", "3") == "errors.poll.closed"
    assert polls.tally(made.code).counts == {"4": 1}
    assert "answer" not in polls.student_view(made.code).question  # closed is not revealed


def test_a_poll_closes_after_its_time(polls):
    made = polls.create(_number())
    polls.clock.now += limits.POLL_SECONDS - 1
    polls.answer(made.code, "s1", "3")
    polls.clock.now += 1
    assert polls.tally(made.code).state == "closed"
    assert _key(polls.answer, made.code, "s2", "3") == "errors.poll.closed"


def test_a_full_poll_takes_no_more_answers(db_url):
    p = Polls(Database(db_url), clock=Clock(), max_answers=3)
    made = p.create(_number())
    for s in ("a", "b", "c"):
        p.answer(made.code, s, "3")
    assert _key(p.answer, made.code, "d", "3") == "errors.poll.full"
    assert p.tally(made.code).state == "closed" and p.tally(made.code).total == 3
    assert limits.POLL_ANSWERS == 500 and limits.POLL_SECONDS == 3 * 3600
    p.db.dispose()


def test_next_closes_this_poll_and_opens_the_next_under_the_same_secret(polls):
    first = polls.create(_number())
    polls.answer(first.code, "s1", "3")
    second = polls.next(first.code, first.secret, _choice())
    assert second.code != first.code and second.secret == first.secret
    old = polls.student_view(first.code)
    assert old.state == "closed" and old.next_code == second.code
    assert polls.tally(second.code).kind == "choice"
    assert polls.answer(second.code, "s1", "O") == "O"  # a new poll: the same session answers again
    assert polls.reveal(second.code, first.secret).state == "revealed"


def test_old_polls_are_deleted_and_open_polls_are_capped(db_url):
    p = Polls(Database(db_url), clock=Clock(), max_open=2)
    old = p.create(_number())
    p.answer(old.code, "s1", "3")
    p.create(_number())
    assert _key(p.create, _number()) == "errors.poll.too_many"
    p.clock.now += limits.POLL_KEPT_SECONDS + 1
    fresh = p.create(_number())  # the old polls are past their time (not open) and deleted with their answers
    assert _key(p.tally, old.code) == "errors.poll.unknown"
    with p.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(pm.ANSWERS)).scalar_one() == 0
        assert conn.execute(sa.select(pm.POLLS.c.code)).scalars().all() == [fresh.code]
    p.db.dispose()


def test_malformed_questions_are_refused_when_a_poll_is_made(polls):
    for bad in ({**_number(), "kind": "essay"}, {**_choice(), "choices": []},
                {**_choice(), "choices": [str(i) for i in range(limits.POLL_CHOICES_MAX + 1)]},
                {**_cell(), "grid": [0, 3]}, {**_cell(), "grid": None}, {**_number(), "params": {"x": "y" * 20_000}}):
        with pytest.raises(ValueError):
            polls.create(bad)


def test_twenty_threads_answering_for_one_session_count_once(polls):
    made = polls.create(_number())
    barrier = threading.Barrier(20)

    def go(i):
        barrier.wait(10)
        try:
            return polls.answer(made.code, "the same session", str(i))
        except UserError as exc:
            return exc.key

    with ThreadPoolExecutor(20) as ex:
        results = list(ex.map(go, range(20)))
    assert sum(r != "errors.poll.answered" for r in results) == 1, results
    t = polls.tally(made.code)
    assert t.total == 1
    with polls.db.read() as conn:
        assert conn.execute(sa.select(pm.POLLS.c.answers)).scalar_one() == 1


def test_a_hundred_sessions_in_parallel_are_all_counted_and_the_cap_is_exact(db_url):
    p = Polls(Database(db_url, pool_size=10), clock=Clock(), max_answers=80)
    made = p.create(_choice())

    def go(i):
        try:
            return p.answer(made.code, f"student {i}", "XO"[i % 2])
        except UserError as exc:
            return exc.key

    started = time.perf_counter()
    with ThreadPoolExecutor(25) as ex:
        results = list(ex.map(go, range(100)))
    seconds = time.perf_counter() - started
    assert sorted(set(results)) == ["O", "X", "errors.poll.full"]
    assert results.count("errors.poll.full") == 20
    t = p.tally(made.code)
    assert t.total == 80 and sum(t.counts.values()) == 80 and t.state == "closed"
    big = Polls(p.db, clock=p.clock)  # the real cap (500): 100 in parallel, all counted
    made = big.create(_number())
    with ThreadPoolExecutor(25) as ex:
        results = list(ex.map(lambda i: big.answer(made.code, f"s{i}", i % 7), range(100)))
    t = big.tally(made.code)
    assert t.total == 100 and t.counts == {str(k): len(range(k, 100, 7)) for k in range(7)}
    print(f"\n100 answers in parallel ({p.db.dialect}): {seconds:.2f} s")
    p.db.dispose()


def test_messages_read_in_both_languages():
    assert message("errors.poll.full", {"max": 500}, "zh") == "这次投票已经收到 500 个回答，达到单次投票的上限，你的回答没有被计入。"
    assert "500 answers" in message("errors.poll.full", {"max": 500}, "en")


def test_an_unreachable_database_is_a_clear_message():
    from tests.pgcluster import _free_port

    with pytest.raises(UserError) as e:
        Polls(Database(f"postgresql+psycopg://u:p@127.0.0.1:{_free_port()}/x", busy_timeout=1))
    assert e.value.key == "errors.poll.database"


def test_a_code_already_taken_is_drawn_again_inside_the_same_transaction(polls, monkeypatch):
    first = polls.create(_number())
    drawn = iter([first.code, first.code, "BCDFGH"])
    monkeypatch.setattr(pm, "new_code", lambda: next(drawn))
    second = polls.create(_number())
    assert second.code == "BCDFGH" and polls.tally(first.code).kind == polls.tally(second.code).kind == "number"
    drawn = iter([first.code, "BCDFGH", "CDFGHJ"])  # the same inside ``next`` (one transaction with the close)
    third = polls.next(first.code, first.secret, _choice())
    assert third.code == "CDFGHJ" and polls.student_view(first.code).next_code == "CDFGHJ"


def test_one_polls_object_per_database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert pm.shared_polls(db) is pm.shared_polls(db) and db.version("polls") == 1
    db.dispose()
