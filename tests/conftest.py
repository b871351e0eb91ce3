"""Shared test set-up: repository root on sys.path, MNIST location, AppTest helpers."""
from __future__ import annotations

import asyncio
import os
import time
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # AppTest resolves page paths relative to the repository root
# Pages don't start the training engine in the background when they open (tests use the dask_engine fixture).
os.environ.setdefault("EXPLAINER_ENGINE_WARM_UP", "0")
# Test workers run at normal priority: on a shared, busy machine a niced worker trains too slowly for test timeouts.
os.environ.setdefault("EXPLAINER_WORKER_NICE", "0")
# The project's MNIST copy for tests: $MNIST_DIR, else ../shared/mnist beside the checkout.
if not os.environ.get("MNIST_DIR") and (ROOT.parent / "shared" / "mnist").is_dir():
    os.environ["MNIST_DIR"] = str(ROOT.parent / "shared" / "mnist")
# Kept runs (explainer.engine.runstore) go to a fresh temporary folder, never the user's cache; the
# browser tests' server inherits it.
if not os.environ.get("CONVOLUTION_EXPLAINER_RUNS"):
    import tempfile

    os.environ["CONVOLUTION_EXPLAINER_RUNS"] = tempfile.mkdtemp(prefix="ce-runs-")


def app_test(page: str, lang: str = "en", timeout: float = 30, **state):
    """An AppTest for ``pages/<page>.py`` with language and any session state preset.

    "Predict first" (``predict``, ui/questions.py) is off unless ``predict=True`` is given: a lesson's tests see
    everything at once, as a learner who switched it off; ``tests/test_pages_questions.py`` tests the questions."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=timeout)
    at.session_state["lang"] = lang
    state.setdefault("predict", False)
    for k, v in state.items():
        at.session_state[k] = v
    return at


@pytest.fixture(scope="session")
def mnist_dir():
    d = os.environ.get("MNIST_DIR")
    assert d and Path(d).is_dir(), ("MNIST_DIR must point at the MNIST files (../shared/mnist here); with a network the "
                                    "test run downloads them into ~/.cache/convolution-explainer/mnist")
    return d


@pytest.fixture(scope="session")
def dask_engine(mnist_dir):
    """A real Dask LocalCluster (1 worker, 1 training slot) used as the app's engine for the whole
    session; stopped, with its worker process, at the end."""
    from explainer.engine import core

    eng = core.Engine(n_workers=1, torch_threads=2, start_timeout=90).start()
    previous = core.set_engine(eng)
    yield eng
    core.set_engine(previous)
    eng.close()


def pytest_configure(config):
    """A fresh clone without MNIST: fetch it once (controller only, before xdist starts its workers) into
    the per-user cache, verified by MD5, and point MNIST_DIR there. Offline, the tests that need MNIST fail
    with the message below instead of a wall of errors."""
    if hasattr(config, "workerinput") or (os.environ.get("MNIST_DIR") and Path(os.environ["MNIST_DIR"]).is_dir()):
        return
    from explainer.data import mnist

    if not mnist.available():
        try:
            print("MNIST not found: downloading it once into", mnist.cache_dir(), flush=True)
            mnist.download()
        except Exception as exc:  # noqa: BLE001 — reported in the header, the MNIST tests then fail clearly
            config._mnist_problem = (f"MNIST is missing and could not be downloaded ({exc}). Put the four IDX files "
                                     f"in a folder and set MNIST_DIR=/path/to/folder (see README, 'Test it').")
            return
    os.environ["MNIST_DIR"] = str(mnist.cache_dir())


def pytest_report_header(config):
    problem = getattr(config, "_mnist_problem", None)
    return [problem] if problem else [f"MNIST_DIR={os.environ.get('MNIST_DIR', '')}"]


def run_async(coro, timeout: float = 600.0):
    """``asyncio.run(coro)`` in a thread of its own, so it works whatever this thread runs: the browser tests'
    session-wide Playwright (sync API) keeps an event loop running in the test thread of the same xdist worker."""
    outcome: dict = {}

    def go() -> None:
        try:
            outcome["value"] = asyncio.run(asyncio.wait_for(coro, timeout))
        except BaseException as exc:  # noqa: BLE001 — re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=go, name="test-asyncio")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def wait_for_run(at, timeout: float = 180):
    """Rerun a Train page AppTest until its training run has finished (``tr_runs`` holds it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.5)
        at.run()
        if at.session_state["tr_runs"]:
            return
    raise AssertionError("the training run did not finish")


def mnist_test_digit(i: int) -> tuple["np.ndarray", int]:
    """MNIST test image ``i`` (28×28 uint8) and its label, read here from the gzipped IDX files in $MNIST_DIR (not
    through the app's loader): what a page shows of a test digit, computed independently."""
    import gzip

    import numpy as np

    d = Path(os.environ["MNIST_DIR"])
    with gzip.open(d / "t10k-images-idx3-ubyte.gz") as f:
        img = np.frombuffer(f.read(16 + 784 * (i + 1))[16 + 784 * i:], np.uint8).reshape(28, 28)
    with gzip.open(d / "t10k-labels-idx1-ubyte.gz") as f:
        label = f.read(8 + i + 1)[8 + i]
    return img, int(label)


def span(*params) -> range:
    """Every whole value the declared ``Param``s allow together (``ui/tables``): from the lowest ``lo`` to the
    highest ``hi``, so a test covers what the page offers and follows its table when a range changes."""
    return range(min(p.lo for p in params), max(p.hi for p in params) + 1)


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster (tests/pgcluster.py) for this test process; stopped and removed at the end."""
    from tests.pgcluster import PgCluster

    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database of each engine: a SQLite file in a temporary folder, or a fresh schema of ``postgres``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'explainer.sqlite'}"
    return request.getfixturevalue("postgres").schema_url()


def release_together(procs, tail: int = 2000) -> list[tuple[str, str]]:
    """Processes that each print "ready" and wait for "go" on stdin, released at once (a start barrier for tests of
    concurrent processes: replicas, machines); their (stdout, stderr) once they end, each killed if still running
    after 60 s. A process that is not ready fails the test with the end of its stderr."""
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()[-tail:]
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        return [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


@pytest.fixture
def server_like_pages(monkeypatch):
    """The whole app as a server runs it. AppTest resets Streamlit's "pages/ folder mode" flag before every run, so
    each run of the entry script would start in the old folder mode; a server sets it once and ``st.navigation``
    clears it for good (the first request of a fresh server, where ``ui.shell`` steps in, is tested in the browser:
    tests/browser/test_first_request.py). With this fixture every run sees the flag as a server does after that."""
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def server_like_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", server_like_init)


def wait_resumed(job, timeout: float = 300):
    """Poll a retried training until it runs on from a checkpoint (``resumed_from`` set); its view."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        view = job.poll()
        if view.state == "running" and view.resumed_from is not None:
            return view
        assert time.monotonic() < deadline, f"the retry did not start in {timeout:g} s ({view.state})"
        time.sleep(0.5)
