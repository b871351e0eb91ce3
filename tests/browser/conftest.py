"""Real-browser tests: the app served by `streamlit run`, driven by Playwright in Debian's chromium.

Fixtures: ``app`` (base URL of the running app), ``page`` (a fresh Playwright page per test).
Helpers: ``goto(page, app, path, **params)``, ``wait_idle(page)``, ``assert_no_exception(page)``,
``screenshot(page, name)``, ``serve()`` (a fresh server of its own, for tests of a server's first request).

Screenshots go to a temporary folder: tests never rewrite tracked files. To refresh the tracked
``docs/screenshots/``, run ``python -m tests.browser.screenshots`` (it sets ``CX_SCREENSHOTS_DIR``).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS_ENV = "CX_SCREENSHOTS_DIR"  # where screenshot() writes; unset: a temporary folder
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve():
    """A fresh ``streamlit run streamlit_app.py`` on a free port; yields its base URL, stops it after."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install -y chromium"
    port = _free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # the lessons' browser tests see everything at once; the questions' flow has its own tests
    env.setdefault("EXPLAINER_PREDICT_FIRST", "0")
    log = open(ROOT / ".pytest_cache" / "streamlit-server.log", "w") if (ROOT / ".pytest_cache").is_dir() \
        else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(base + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start within 60 s")
        yield base
    finally:
        import psutil

        children = psutil.Process(proc.pid).children(recursive=True)  # the server's Dask cluster, if it started one
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("streamlit did not stop within 30 s of SIGTERM")
        _, alive = psutil.wait_procs(children, timeout=20)
        for p in alive:
            p.kill()
        assert not alive, f"processes left running after the server stopped: {[p.cmdline() for p in alive]}"


@pytest.fixture(scope="session")
def app():
    with serve() as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors = CONSOLE_ERRORS[pg] = []  # the browser's console errors, for wait_idle's message
    pg.on("console", lambda m: errors.append(m.text[:500]) if m.type == "error" else None)
    yield pg
    CONSOLE_ERRORS.pop(pg, None)
    context.close()


CONSOLE_ERRORS: dict = {}  # page -> its console errors (the page fixture fills it)
# Streamlit's connection states: while the websocket is down it pings the server and reconnects by itself
# (PINGING_SERVER, CONNECTING: waited for, up to the timeout); DISCONNECTED_FOREVER is a page that has given up
# (a learner sees "Connection error" until a reload), reported at once with the browser's errors.
CONNECTION = """() => { const a = document.querySelector('[data-testid="stApp"]');
  const c = a && a.getAttribute('data-test-connection-state');
  return c === 'CONNECTED' || c === 'DISCONNECTED_FOREVER' ? c : null; }"""


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has connected and finished running the script; a page that has lost its server
    for good fails at once, with the browser's console errors."""
    state = page.wait_for_function(CONNECTION, timeout=timeout).json_value()
    assert state == "CONNECTED", (f"the page disconnected for good ({state}); browser console errors: "
                                  f"{CONSOLE_ERRORS.get(page, [])[-5:]}")
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-testid="stApp"]');
                   return a && a.getAttribute('data-test-script-state') === 'notRunning'; }""",
        timeout=timeout)
    page.wait_for_timeout(300)  # let the last deltas paint
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-testid="stApp"]');
                   return a && a.getAttribute('data-test-script-state') === 'notRunning'; }""",
        timeout=timeout)


def goto(page, app: str, path: str = "", **params) -> None:
    """Open ``/<path>?params`` and wait until the page has rendered."""
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    page.goto(f"{app}/{path}{query}")
    wait_idle(page)


def assert_no_exception(page) -> None:
    exc = page.locator('[data-testid="stException"]')
    assert exc.count() == 0, exc.first.inner_text()


def screenshots_dir() -> Path:
    """``$CX_SCREENSHOTS_DIR`` when set (``python -m tests.browser.screenshots`` sets it to docs/screenshots/),
    else one temporary folder per test run."""
    global _TEMP_SHOTS
    if os.environ.get(SCREENSHOTS_ENV):
        return Path(os.environ[SCREENSHOTS_ENV])
    if _TEMP_SHOTS is None:
        _TEMP_SHOTS = Path(tempfile.mkdtemp(prefix="cx-screenshots-"))
    return _TEMP_SHOTS


_TEMP_SHOTS: Path | None = None


def screenshot(page, name: str, full_page: bool = True, max_height: int = 6000) -> Path:
    """Save ``<name>.png`` in ``screenshots_dir()``. Streamlit scrolls inside its main container, not the
    document, so a full-page shot temporarily grows the viewport to the content's height."""
    shots = screenshots_dir()
    shots.mkdir(parents=True, exist_ok=True)
    path = shots / f"{name}.png"
    size = page.viewport_size
    if full_page:
        height = page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                                          return m ? m.scrollHeight : document.body.scrollHeight; }""")
        page.set_viewport_size({"width": size["width"], "height": min(max(int(height), size["height"]), max_height)})
        page.wait_for_timeout(800)  # let Plotly re-layout at the new size
    page.screenshot(path=str(path))
    if full_page:
        page.set_viewport_size(size)
    return path
