"""Shared test set-up: repository root on sys.path, MNIST location, AppTest helpers."""
from __future__ import annotations

import os
import sys
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


def app_test(page: str, lang: str = "en", timeout: float = 30, **state):
    """An AppTest for ``pages/<page>.py`` with language and any session state preset."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=timeout)
    at.session_state["lang"] = lang
    for k, v in state.items():
        at.session_state[k] = v
    return at


@pytest.fixture(scope="session")
def mnist_dir():
    d = os.environ.get("MNIST_DIR")
    assert d and Path(d).is_dir(), "MNIST_DIR must point at the MNIST files (../shared/mnist here)"
    return d


@pytest.fixture(scope="session")
def dask_engine(mnist_dir):
    """A real Dask LocalCluster (1 worker, 1 training slot) used as the app's engine for the whole
    session; stopped, with its worker process, at the end."""
    from explainer import jobs

    eng = jobs.Engine(n_workers=1, torch_threads=2, start_timeout=90).start()
    previous = jobs.set_engine(eng)
    yield eng
    jobs.set_engine(previous)
    eng.close()
