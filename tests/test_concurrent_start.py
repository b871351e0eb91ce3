"""A class opening a fresh server at once: every session gets its page, none a traceback.

Streamlit runs each session's script in its own thread of one process. Before ``ui/boot.py``, sessions
that arrived together on a fresh server imported the same packages concurrently and some got
half-initialised modules ("cannot import name 'keep_alive' from 'ui.jobs'", "partially initialized
module 'pandas'"): 12 of 18 such sessions showed Streamlit's error page. The protocol-level client of
``bench/classroom.py`` opens the sessions as browsers do (HTTP, then the websocket, then the first run).
"""
from __future__ import annotations

import asyncio

from bench.classroom import ClickError, Server, Session
from ui.nav import available_lessons

LESSONS = [url for _, _, _, url in available_lessons() if url != "home"] + [""]


def test_sessions_arriving_together_on_a_fresh_server_all_get_their_page(mnist_dir, tmp_path):
    env = {"MNIST_DIR": str(mnist_dir), "CONVOLUTION_EXPLAINER_RUNS": str(tmp_path / "runs")}
    server = Server(env=env, name="fresh")  # a new process: nothing imported yet

    async def one(page: str) -> str | None:
        s = Session(server.url, timeout=180)
        try:
            await s.open(page)
            return f"/{page}: {s.exceptions[0]}" if s.exceptions else None
        except (ClickError, OSError, asyncio.TimeoutError) as exc:
            return f"/{page}: {exc}"
        finally:
            await s.close()

    async def all_at_once() -> list[str]:
        found = await asyncio.gather(*[one(page) for page in LESSONS * 2])
        return [f for f in found if f]

    try:
        failures = asyncio.run(all_at_once())
    finally:
        server.stop()
    assert not failures, f"{len(failures)} of {2 * len(LESSONS)} sessions failed: {failures[:3]}"
