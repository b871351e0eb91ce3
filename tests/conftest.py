"""Shared test set-up: repository root on sys.path, MNIST location, AppTest helpers."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # AppTest resolves page paths relative to the repository root
# The project's MNIST copy for tests: $MNIST_DIR, else ../shared/mnist beside the checkout.
if not os.environ.get("MNIST_DIR") and (ROOT.parent / "shared" / "mnist").is_dir():
    os.environ["MNIST_DIR"] = str(ROOT.parent / "shared" / "mnist")
# Kept runs (explainer.runstore) go to a fresh temporary folder, never the user's cache; the
# browser tests' server inherits it.
if not os.environ.get("CONVOLUTION_EXPLAINER_RUNS"):
    import tempfile

    os.environ["CONVOLUTION_EXPLAINER_RUNS"] = tempfile.mkdtemp(prefix="ce-runs-")


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
