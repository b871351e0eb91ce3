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
from tests.conftest import run_async
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
        failures = run_async(all_at_once(), 300)
    finally:
        server.stop()
    assert not failures, f"{len(failures)} of {2 * len(LESSONS)} sessions failed: {failures[:3]}"


def test_every_script_imports_ui_boot_before_anything_else():
    """The fix only holds if no page imports a library before ``ui.boot`` has loaded them all."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    scripts = sorted((root / "pages").glob("*.py")) + [root / "streamlit_app.py"]
    from ui.nav import LESSONS

    assert {s.relative_to(root).as_posix() for s in scripts[:-1]} == {path for path, *_ in LESSONS}  # every lesson
    for script in scripts:
        imports = [node for node in ast.parse(script.read_text()).body if isinstance(node, (ast.Import, ast.ImportFrom))
                   and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
        first = imports[0]
        assert isinstance(first, ast.Import) and [a.name for a in first.names] == ["ui.boot"], script.name


def test_ui_boot_loads_every_module_of_the_app():
    """A module the pages import but ``ui.boot`` doesn't would be imported concurrently again."""
    from pathlib import Path

    import ui.boot as boot

    root = Path(__file__).resolve().parents[1]
    lazy = {"explainer.engine.worker", "explainer.engine.jobcluster", "explainer.__main__", "ui.boot"}  # Dask: with the first job
    modules = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
               for folder in ("explainer", "ui") for p in (root / folder).rglob("*.py")}
    loaded = set(boot.APP) | {f"ui.tables.{page}" for page in __import__("ui.tables").tables.PAGES}
    missing = sorted(m for m in modules - lazy - {"explainer", "ui"} if m not in loaded)
    assert not missing, f"add to ui.boot.APP: {missing}"


def test_ui_boot_compiles_every_lesson_into_streamlits_script_cache(monkeypatch):
    """In a server, ``ui.boot`` fills Streamlit's script cache with every lesson, under the path ``st.Page`` gives it
    (links resolved), so no learner's first visit pays the compile; a lesson that fails to compile is left for
    Streamlit to report when opened (the others, and the page that imported ``ui.boot``, still work)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    import ui.boot as boot
    from ui.nav import ROOT

    cache = ScriptCache()
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: type("R", (), {"_script_cache": cache})()))
    boot._compile_lessons()
    assert sorted(cache._cache) == sorted(str((ROOT / path).resolve()) for path, *_ in available_lessons())

    broken = ScriptCache()
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: type("R", (), {"_script_cache": broken})()))
    real = broken.get_bytecode
    monkeypatch.setattr(broken, "get_bytecode", lambda p: (_ for _ in ()).throw(SyntaxError(p)) if "kernels" in p
                        else real(p))
    boot._compile_lessons()
    assert len(broken._cache) == len(available_lessons()) - 1


def test_background_warm_up_loads_the_sample_pictures_and_only_the_data_sets_this_machine_has(monkeypatch):
    """The warm-up thread decodes every sample picture and loads each built-in data set that has a local copy (no
    download is tried; a set without a copy, or one that fails to load, is left for its page to explain)."""
    import ui.boot as boot
    import ui.data
    from explainer.data import datasets, images

    images._sample.cache_clear()
    loaded = []

    def fake_built_in(key):
        loaded.append(key)
        if key == "fashion":
            raise OSError("a broken copy")

    monkeypatch.setattr(ui.data, "built_in", fake_built_in)
    monkeypatch.setitem(datasets.DATASETS, "mnist", datasets.replace(datasets.DATASETS["mnist"], is_available=lambda: True))
    monkeypatch.setitem(datasets.DATASETS, "fashion",
                        datasets.replace(datasets.DATASETS["fashion"], is_available=lambda: True))
    boot._load_pictures_and_data()
    assert images._sample.cache_info().currsize == len(images.SAMPLES)
    assert loaded == ["mnist", "fashion"]
    loaded.clear()
    monkeypatch.setitem(datasets.DATASETS, "fashion",
                        datasets.replace(datasets.DATASETS["fashion"], is_available=lambda: False))
    boot._load_pictures_and_data()
    assert loaded == ["mnist"]


def test_background_warm_up_opens_the_polls_database_and_survives_one_that_is_down(monkeypatch):
    """The warm-up opens the class polls' shared database (engine and schema check) and loads the QR maker, so a
    lecturer's first "Ask the class" doesn't pay them; a database that can't be reached is left for the poll pages to
    report."""
    import sys

    import explainer.polls
    import ui.boot as boot

    opened = []
    monkeypatch.setattr(explainer.polls, "shared_polls", lambda db=None: opened.append(db))
    boot._open_polls()
    assert opened == [None] and "segno" in sys.modules

    def down(db=None):
        raise OSError("connection refused")

    monkeypatch.setattr(explainer.polls, "shared_polls", down)
    boot._open_polls()  # no exception
