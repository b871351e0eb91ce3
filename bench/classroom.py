"""A classroom on one server: N students' browsers, spoken at the protocol level.

Each simulated student is a real Streamlit session: a websocket on ``/_stcore/stream`` that sends the
``BackMsg.rerun_script`` messages a browser sends (the page, the query string, the widget states,
fragment ids, fragment auto-reruns while a stepper plays or a training runs) and reads the
``ForwardMsg`` stream back (widget ids come from the deltas). Every click is timed from the send to
its ``script_finished``. By default (``--walk schema``) every student goes through every lesson in a
random order and on each makes 3–6 changes with 2–6 s think time, each drawn by ``bench/draws.py`` from the
declared schema (``ui/tables``): a widget the page shows, set to a random value over its declared range
(options, subsets, valid kernel text), or a button pressed (steppers, presets; not the engine's). Actions
are reported per page × widget. ``--walk presets`` keeps the older fixed sequences: Kernels (kernel,
image source, flip, bias, output view), Stride (stride and kernel sliders, stepper next, play /
pause), Pooling (mode, size, stepper), Optimizers (surface, steps, a learning rate, a preset), and
the Train page (open, pick a model). ``--storm K`` makes K of them press Start on the Train page
(the rest keep clicking); each trainer waits for its finished run.

    # start a server (the working tree's settings), 10 then 30 students, 40 s each
    MNIST_DIR=../shared/mnist .venv/bin/python bench/classroom.py --start --students 10,30 --duration 40
    # the same load on two servers: Streamlit's default full GC after every run vs the app's settings
    .venv/bin/python bench/classroom.py --compare gc --students 1,10,30 --duration 40
    # a storm: 20 clicking while 5 press Start
    .venv/bin/python bench/classroom.py --start --students 25 --storm 5 --duration 120
    # faults during a storm: a course deployment (deploy/classroom.sh), its worker then its scheduler SIGKILLed
    # through its supervisord; the clicks' p95 in the 30 s after each kill, the lost trainings retried (Retry)
    .venv/bin/python bench/classroom.py --url http://127.0.0.1:8500 --students 30 --storm 10 --duration 150 \
        --kill 40:worker1,90:scheduler --supervisor /tmp/explainer-classroom.XXXX/supervisord.conf
    # … a web replica killed: its students' websockets drop and reconnect as the browser's (backoff 0.5 s doubling to
    # 5 s, 60 s at most) through HAProxy to a live replica, the same page and query (?run=); per kill the students
    # disconnected / reconnected and how fast, the clicks in flight on the dead replica (apart from errors); per
    # trainer: finished, Retry pressed (after a reconnection: the "interrupted when the server restarted" message,
    # its ?job= key), or lost silently (the page showed nothing of it: Start pressed again)
    .venv/bin/python bench/classroom.py --url http://127.0.0.1:8500 --students 30 --storm 10 --duration 150 \
        --kill 40:web1,100:worker1 --supervisor /tmp/explainer-classroom.XXXX/supervisord.conf
    # a running server (loopback only); --server-pid adds its RSS and CPU
    .venv/bin/python bench/classroom.py --url http://127.0.0.1:8501 --students 10

Loopback only, bounded: at most 200 students, 600 s per level, 20 000 clicks per level, and every
click gives up after ``--click-timeout`` seconds (counted as an error). Timings are printed, never
asserted in tests.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

os.environ.setdefault("EXPLAINER_PREDICT_FIRST", "0")  # servers it starts show everything (see bench/common.py)
import random
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402
from tornado import httpclient, websocket  # noqa: E402

MAX_STUDENTS = 200
MAX_DURATION = 600.0
MAX_CLICKS = 20_000
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


class ClickError(Exception):
    pass


def wait_healthy(url: str, proc, name: str, limit: float = 120.0) -> None:
    """Wait until the Streamlit server at ``url`` (its process ``proc``) answers its health check; ``SystemExit``
    when the process ends first or nothing answers within ``limit`` seconds."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{name}: streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{name}: no health answer in {limit:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {url}: this load client only talks to loopback addresses")


# ---------------------------------------------------------------- one browser session
@dataclass
class Widget:
    kind: str          # the Element oneof name: "slider", "selectbox", "button", ...
    proto: object      # the element's proto (options, ranges)
    id: str
    fragment_id: str


class Session:
    """One browser tab: a websocket session that reruns the app like the Streamlit frontend does."""

    def __init__(self, base_url: str, *, cookies: dict[str, str] | None = None, timeout: float = 60.0):
        check_loopback(base_url)
        self.base = base_url.rstrip("/")
        self.cookies = dict(cookies or {})
        # the visitor cookie a browser holds from its first page on (ui.jobs.visitor_cookie sets it by script, which
        # this client doesn't run): a reconnected session is the same visitor, as a browser's is
        self.cookies.setdefault("ce_visitor", uuid.uuid4().hex)
        self.timeout = timeout
        self.ws = None
        self.session_id = ""
        self.pages: dict[str, str] = {}        # url path → page script hash
        self.page = ""
        self.query = ""
        self.widgets: dict[str, Widget] = {}   # user key → widget (from the current run's deltas)
        self.states: dict[str, WidgetState] = {}  # widget id → the state the "browser" holds
        self.texts: list[str] = []             # markdown/heading bodies of the current run
        self.alerts: list[str] = []            # st.info/success/warning/error bodies of the current run
        self.progress: list[str] = []          # every progress bar's text, in order (never cleared)
        self.exceptions: list[str] = []
        self.auto: dict[str, float] = {}       # fragment id → interval (fragment run_every timers)
        self._last_auto: dict[str, float] = {}
        self._finished: asyncio.Queue = asyncio.Queue()
        self._responses: dict[str, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        self._cache: dict[str, ForwardMsg] = {}  # the browser's message cache: big messages come once, then by hash
        self.lock = asyncio.Lock()
        self.closed = False
        #: the server closed the websocket (its replica died), not ``close()``: ``_reconnect`` opens it again
        self.dropped = False
        self.dropped_at: float | None = None
        self.reconnects = 0                    # successful reconnections (a new session on a live replica)
        self.label = ""                        # who this is, for the reports ("clicker 3", "trainer 0")

    @property
    def gone(self) -> bool:
        """Closed for good: by ``close()``, or its reconnection gave up (a dropped one will be reopened)."""
        return self.closed and not self.dropped

    @property
    def replica(self) -> str:
        """The replica HAProxy sent the websocket to (its ``X-Explainer-Replica`` header; "" without a balancer)."""
        ws = self.ws
        return (ws.headers.get("X-Explainer-Replica", "") if ws is not None and getattr(ws, "headers", None) else "")

    # -- transport
    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def http(self, path: str, method: str = "GET", body: bytes | None = None,
                   headers: dict | None = None) -> httpclient.HTTPResponse:
        """A plain HTTP request as the browser's fetch would make it (same cookies); keeps Set-Cookie."""
        h = {"Cookie": self._cookie_header()} if self.cookies else {}
        h.update(headers or {})
        req = httpclient.HTTPRequest(self.base + path, method=method, body=body, headers=h,
                                     request_timeout=self.timeout, follow_redirects=False)
        resp = await httpclient.AsyncHTTPClient().fetch(req, raise_error=False)
        for raw in resp.headers.get_list("Set-Cookie"):
            name, _, rest = raw.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp

    async def open(self, page: str = "", *, reconnect: bool = False) -> float:
        """Load the page (HTTP, for cookies) and connect; returns the seconds to the first script_finished. A
        reconnection (``reopen``) doesn't load the page again: the browser pings and opens a websocket."""
        t0 = time.perf_counter()
        if not reconnect:
            resp = await self.http("/" + page)
            if resp.code != 200:
                raise ClickError(f"GET /{page}: HTTP {resp.code}")
        for path in ("/_stcore/health", "/_stcore/host-config"):  # the frontend's first calls (XSRF cookie)
            resp = await self.http(path)
            if resp.code != 200:
                raise ClickError(f"GET {path}: HTTP {resp.code}")
        url = "ws" + self.base[4:] + "/_stcore/stream"
        xsrf = self.cookies.get("_streamlit_xsrf", "")
        protocols = ["streamlit", xsrf] if xsrf else ["streamlit"]
        headers = {"Cookie": self._cookie_header()} if self.cookies else {}
        req = httpclient.HTTPRequest(url, headers=headers, request_timeout=self.timeout)
        self.ws = await websocket.websocket_connect(req, subprotocols=protocols, max_message_size=256 * 2**20)
        self._reader = asyncio.ensure_future(self._read())
        self.page = page
        await self._rerun(fragment_id="")
        return time.perf_counter() - t0

    async def reopen(self) -> float:
        """Reconnect as Streamlit's browser client does when its websocket drops: ping the server (through the same
        front door, where HAProxy moves a dead replica's students to a live one and sets its cookie anew), open a new
        websocket and rerun the page it was on with its query string (``?run=…``) and the widget states the browser
        holds; the message cache is kept, as the browser keeps it. Returns the seconds to the first script_finished."""
        old, self.ws = self.ws, None
        if old is not None:
            old.close()
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        self._reader = None
        self.session_id = ""
        self.closed = self.dropped = False
        self._finished = asyncio.Queue()
        self._last_auto = {}
        return await self.open(self.page, reconnect=True)

    async def close(self) -> None:
        self.closed = True
        self.dropped = False
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    async def _read(self) -> None:
        ws = self.ws
        while True:
            raw = await ws.read_message()
            if raw is None:
                if ws is not self.ws:  # an old connection (reopen replaced it)
                    return
                if not self.closed:  # not our close(): the server's side went (a replica killed)
                    self.dropped, self.dropped_at = True, time.monotonic()
                self.closed = True
                await self._finished.put(None)
                return
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            if msg.WhichOneof("type") == "ref_hash":  # "the same as the message you cached under this hash"
                cached = self._cache.get(msg.ref_hash)
                if cached is None:
                    self.exceptions.append(f"server referred to an unknown cached message {msg.ref_hash}")
                    continue
                full = ForwardMsg()
                full.CopyFrom(cached)
                full.metadata.CopyFrom(msg.metadata)
                msg = full
            elif msg.metadata.cacheable and msg.hash:
                self._cache[msg.hash] = msg
            self._handle(msg)

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            ns = msg.new_session
            if ns.initialize.session_id:
                self.session_id = ns.initialize.session_id
            for p in ns.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
            if not msg.metadata.run.fragment_ids:  # a full run redraws the page; a fragment run only its part
                self.widgets, self.texts, self.auto, self.alerts = {}, [], {}, []
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
        elif kind == "delta":
            d = msg.delta
            if d.WhichOneof("type") != "new_element":
                return
            el = d.new_element
            ek = el.WhichOneof("type")
            proto = getattr(el, ek) if ek else None
            if ek == "exception":
                self.exceptions.append(f"{proto.type}: {proto.message}")
            elif ek in ("markdown", "heading"):
                self.texts.append(proto.body)
            elif ek == "alert":
                self.alerts.append(proto.body)
            elif ek == "progress" and proto.text:
                self.progress.append(proto.text)
            wid = getattr(proto, "id", "") if proto is not None and hasattr(proto, "id") else ""
            if isinstance(wid, str) and wid.startswith("$$ID-"):
                key = wid.split("-", 2)[2]
                self.widgets[key] = Widget(ek, proto, wid, d.fragment_id)
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.auto[msg.auto_rerun.fragment_id] = max(0.2, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self.auto.pop(fid, None)
        elif kind == "file_urls_response":
            fut = self._responses.pop(msg.file_urls_response.response_id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.file_urls_response)
        elif kind == "script_finished":
            self._finished.put_nowait(msg.script_finished)

    async def _send(self, back: BackMsg) -> None:
        await self.ws.write_message(back.SerializeToString(), binary=True)

    async def _rerun(self, fragment_id: str, is_auto: bool = False) -> None:
        """Send a rerun with the browser's widget states and wait for its finish (not an early stop)."""
        while not self._finished.empty():
            self._finished.get_nowait()
        n_exc = len(self.exceptions)
        back = BackMsg()
        cs = back.rerun_script
        cs.query_string = self.query
        cs.page_name = self.page
        cs.page_script_hash = self.pages.get(self.page, "")
        cs.fragment_id = fragment_id
        cs.is_auto_rerun = is_auto
        cs.cached_message_hashes.extend(self._cache)
        cs.widget_states.widgets.extend(self.states.values())
        # a trigger (button press) is sent once, as the browser does
        self.states = {k: v for k, v in self.states.items() if v.WhichOneof("value") != "trigger_value"}
        await self._send(back)
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClickError("timeout")
            try:
                status = await asyncio.wait_for(self._finished.get(), left)
            except asyncio.TimeoutError:
                raise ClickError("timeout") from None
            if status is None:
                raise ClickError("connection closed")
            if status in FINISHED:
                break
            if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                raise ClickError("script compile error")
        if not fragment_id:  # the browser drops the states of widgets that were not drawn
            live = {w.id for w in self.widgets.values()}
            self.states = {k: v for k, v in self.states.items() if k in live}
        if len(self.exceptions) > n_exc:
            raise ClickError("exception: " + self.exceptions[-1][:120])

    # -- what a learner does
    def widget(self, key: str) -> Widget:
        w = self.widgets.get(key)
        if w is None:
            raise ClickError(f"no widget {key!r} on {self.page or 'home'}")
        return w

    def find(self, prefix: str = "", suffix: str = "") -> str:
        """The key of the first widget on the page whose key has this prefix and suffix."""
        for key in self.widgets:
            if key.startswith(prefix) and key.endswith(suffix):
                return key
        raise ClickError(f"no widget {prefix}…{suffix} on {self.page or 'home'}")

    async def change(self, key: str, make: Callable[[Widget, WidgetState], None]) -> float:
        """Set one widget's state (``make(widget, state)`` fills it) and time the rerun it causes."""
        async with self.lock:
            w = self.widget(key)
            if getattr(w.proto, "disabled", False):
                raise ClickError(f"widget {key!r} is disabled")
            st = WidgetState(id=w.id)
            make(w, st)
            self.states[w.id] = st
            if getattr(w.proto, "form_id", "") and not getattr(w.proto, "is_form_submitter", False):
                return 0.0  # a widget in a form: the browser keeps its value, sent with the form's submit (no rerun)
            t0 = time.perf_counter()
            await self._rerun(fragment_id=w.fragment_id)
            return time.perf_counter() - t0

    async def click(self, key: str) -> float:
        return await self.change(key, lambda w, s: setattr(s, "trigger_value", True))

    async def slider(self, key: str, value: float) -> float:
        return await self.change(key, lambda w, s: s.double_array_value.data.extend([float(value)]))

    async def number(self, key: str, value: float) -> float:
        return await self.change(key, lambda w, s: setattr(s, "double_value", float(value)))

    async def toggle(self, key: str, value: bool | None = None) -> float:
        def make(w, s):
            current = self.states.get(w.id)
            old = current.bool_value if current is not None else bool(w.proto.default)
            s.bool_value = (not old) if value is None else value
        return await self.change(key, make)

    def options(self, key: str) -> list[str]:
        w = self.widget(key)
        if w.kind == "button_group":
            return [o.content for o in w.proto.options]
        return list(w.proto.options)

    async def choose(self, key: str, index: int) -> float:
        """Pick option ``index`` of a selectbox, segmented control / pills or select slider."""
        def make(w, s):
            opts = self.options(key)
            label = opts[index % len(opts)]
            if w.kind == "selectbox":
                s.string_value = label
            else:
                s.string_array_value.data.extend([label])
        return await self.change(key, make)

    async def goto(self, page: str) -> float:
        """Switch page in the sidebar navigation."""
        async with self.lock:
            if page not in self.pages:
                raise ClickError(f"no page {page!r}")
            self.page, self.query, self.states = page, "", {}
            t0 = time.perf_counter()
            await self._rerun(fragment_id="")
            return time.perf_counter() - t0

    async def tick(self) -> float | None:
        """Run due fragment timers (a playing stepper, a running training's progress) like the browser."""
        now = time.monotonic()
        for fid, interval in list(self.auto.items()):
            if now - self._last_auto.get(fid, 0.0) >= interval and not self.lock.locked():
                async with self.lock:
                    self._last_auto[fid] = time.monotonic()
                    t0 = time.perf_counter()
                    await self._rerun(fragment_id=fid, is_auto=True)
                    return time.perf_counter() - t0
        return None

    async def upload(self, key: str, name: str, data: bytes, mime: str = "application/octet-stream") -> tuple[int, float]:
        """Upload a file into a file uploader as the browser does (file URLs → PUT → widget state).

        Returns (HTTP status of the PUT, seconds of the rerun); a non-2xx PUT raises ClickError."""
        self.widget(key)  # the page must have it (ClickError otherwise)
        back = BackMsg()
        rid = f"r{random.getrandbits(48)}"
        back.file_urls_request.request_id = rid
        back.file_urls_request.file_names.append(name)
        back.file_urls_request.session_id = self.session_id
        fut = asyncio.get_running_loop().create_future()
        self._responses[rid] = fut
        await self._send(back)
        resp = await asyncio.wait_for(fut, self.timeout)
        if resp.error_msg:
            raise ClickError(resp.error_msg)
        urls = resp.file_urls[0]
        boundary = f"----classroom{random.getrandbits(64):x}"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"UploadedFile\"; filename=\"{name}\"\r\n"
                f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        path = urls.upload_url if urls.upload_url.startswith("/") else urllib.parse.urlsplit(urls.upload_url).path
        put = await self.http(path, "PUT", body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                  "X-Xsrftoken": self.cookies.get("_streamlit_xsrf", "")})
        if put.code >= 300:
            raise ClickError(f"upload PUT {put.code}: {put.body[:200]!r}")

        def make(w, s):
            info = s.file_uploader_state_value.uploaded_file_info.add()
            info.name, info.size, info.file_id = name, len(data), urls.file_id
            info.file_urls.CopyFrom(urls)
        return put.code, await self.change(key, make)


# ---------------------------------------------------------------- learners
def _tr_size_index(opts: list[str], wanted: int) -> int:
    digits = ["".join(ch for ch in o if ch.isdigit()) for o in opts]
    return digits.index(str(wanted)) if str(wanted) in digits else 0


def sequences(rng: random.Random) -> dict[str, list[tuple[str, Callable]]]:
    """Per page: (action name, coroutine factory(session)) in the order a learner would click."""
    def pick(key):
        return lambda s: s.choose(key, rng.randrange(1, 20))
    return {
        "kernels": [
            ("kernels.kernel", pick("kn_kernel")),
            ("kernels.flip", lambda s: s.toggle("kn_flip")),
            ("kernels.image", lambda s: s.choose("kn_src", rng.randrange(0, 3))),
            ("kernels.kernel", pick("kn_kernel")),
            ("kernels.bias", lambda s: s.number("kn_bias", rng.choice([0.0, 0.5, -0.5, 1.0]))),
            ("kernels.output_view", lambda s: s.choose("kn_out", rng.randrange(0, 3))),
        ],
        "stride": [
            ("stride.stride", lambda s: s.slider("sp_s", rng.choice([1, 2, 3]))),
            ("stride.next", lambda s: s.click("sp_next")),
            ("stride.next", lambda s: s.click("sp_next")),
            ("stride.kernel", lambda s: s.slider("sp_k", rng.choice([2, 3, 4]))),
            ("stride.play", lambda s: s.click("sp_play")),
            ("stride.pause", lambda s: s.click("sp_play")),
        ],
        "pooling": [
            ("pooling.mode", lambda s: s.choose("pl_mode", rng.randrange(0, 2))),
            ("pooling.size", lambda s: s.slider("pl_size", rng.choice([2, 3]))),
            ("pooling.next", lambda s: s.click("pl_next")),
            ("pooling.stride", lambda s: s.slider("pl_stride", rng.choice([1, 2]))),
        ],
        "optimizers": [
            ("optimizers.steps", lambda s: s.number("op_steps", rng.choice([100, 200, 300]))),
            # the learning-rate inputs are per surface and optimizer (op_<surface>_<optimizer>_lr): the first shown
            ("optimizers.lr", lambda s: s.number(s.find(prefix="op_", suffix="_lr"), rng.choice([0.02, 0.05, 0.1]))),
            ("optimizers.surface", lambda s: s.choose("op_surface", rng.randrange(0, 4))),
            ("optimizers.preset", lambda s: s.click("op_preset_ravine")),
        ],
        "train": [
            ("train.model", lambda s: s.choose("tr_model", rng.randrange(0, 3))),
        ],
        "network": [
            ("network.digit", lambda s: s.number("nw_digit", rng.randrange(0, 10000))),
            ("network.layer", lambda s: s.choose("nw_layer", rng.randrange(1, 8))),
            ("network.channel", lambda s: s.number("nw_channel", rng.randrange(0, 8))),
            ("network.temperature", lambda s: s.slider("nw_temp", rng.choice([0.5, 1.0, 2.0]))),
        ],
    }


#: a dropped student's reconnection, as Streamlit's browser client: a first try at once, then waits doubling from
#: 0.5 s to 5 s, for at most RECONNECT_LIMIT seconds after the drop (then the student is gone, counted)
BACKOFF_FIRST, BACKOFF_CAP, RECONNECT_LIMIT, REOPEN_TIMEOUT = 0.5, 5.0, 60.0, 60.0


def backoff_delays(first: float | None = None, cap: float | None = None):
    """The waits between reconnection attempts: first, 2·first, 4·first … capped at ``cap``, for ever."""
    delay, cap = (BACKOFF_FIRST if first is None else first), (BACKOFF_CAP if cap is None else cap)
    while True:
        yield min(delay, cap)
        delay *= 2


@dataclass
class Drop:
    """One student's websocket closed by the server's side (its replica died), and its reconnection."""
    who: str
    at: float                      # time.monotonic() when the drop was seen
    replica: str = ""              # where it was
    back: float | None = None      # time.monotonic() of the reconnected page's first script_finished; None: gave up
    replica_after: str = ""
    attempts: int = 0
    why: str = ""                  # the last failed attempt's reason

    @property
    def seconds(self) -> float | None:
        return None if self.back is None else self.back - self.at


@dataclass
class TrainerRecord:
    """What one trainer went through: where its training ran, the faults it saw, how it ended."""
    i: int
    replica: str = ""              # the replica its training was started from
    started: float | None = None
    finished_after: float | None = None  # seconds from the first Start to a finished run shown
    retried: int = 0               # a lost training's Retry pressed (shown by the app)
    rejoined: int = 0              # … of them on a reconnected page (its ?job= named the training its replica lost)
    lost_silently: int = 0         # reconnected to a page showing neither its training nor a Retry
    started_again: int = 0         # … where the learner pressed Start again (the page offered nothing else)
    drops: int = 0                 # its websocket dropped (its replica died)
    link_back: list[bool] = field(default_factory=list)  # after a drop with a finished run: did ?run= bring it back

    @property
    def outcome(self) -> str:
        if self.started is None:
            return "not started"
        if self.finished_after is None:
            return "lost silently, not finished" if self.lost_silently else "not finished"
        if self.lost_silently:
            return "lost silently, started again, finished"
        return "finished after Retry" if self.retried else "finished"


@dataclass
class Results:
    times: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_examples: dict[str, str] = field(default_factory=dict)
    trainings_started: int = 0
    trainings_finished: int = 0
    train_seconds: list[float] = field(default_factory=list)
    #: per trainer who saw "Queued — n ahead of you": the positions shown, in order (deduplicated runs)
    queue_shown: list[list[int]] = field(default_factory=list)
    queued_soon: int = 0  # trainers shown "Queued — starting in a moment" (0 ahead) but no number
    clicks: int = 0
    retried: int = 0  # trainers shown a lost training's Retry (the engine lost it), who pressed it
    #: (time.monotonic() the click was sent, its seconds) of every click: the latency around a fault (--kill)
    click_log: list[tuple[float, float]] = field(default_factory=list)
    kills: list[tuple[float, str]] = field(default_factory=list)  # (time.monotonic(), program) of each --kill
    error_log: list[float] = field(default_factory=list)  # time.monotonic() of each error (res.fail)
    #: clicks in flight on a replica that died (the websocket closed under them), then reconnected: not errors of
    #: the app, counted apart; (time.monotonic() the drop was seen, action)
    in_flight_lost: list[tuple[float, str]] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    trainers: list[TrainerRecord] = field(default_factory=list)

    def add(self, action: str, seconds: float) -> None:
        self.times.setdefault(action, []).append(seconds)

    def fail(self, action: str, why: str) -> None:
        self.errors[action] = self.errors.get(action, 0) + 1
        self.error_examples.setdefault(action, why)
        self.error_log.append(time.monotonic())


DROP_ERRORS = (ClickError, OSError, asyncio.TimeoutError, websocket.WebSocketClosedError, httpclient.HTTPClientError)


async def _was_dropped(session: Session, exc: BaseException) -> bool:
    """Whether a failed action failed because the session's websocket was closed by the server (its replica died):
    the reader may see the close a moment after the write failed."""
    closing = isinstance(exc, (websocket.WebSocketClosedError, OSError)) or str(exc) == "connection closed"
    for _ in range(20 if closing else 0):
        if session.dropped:
            break
        await asyncio.sleep(0.05)
    return session.dropped


async def _reconnect(res: Results, session: Session, limit: float | None = None) -> bool:
    """A dropped session reconnects as the browser does (``Session.reopen``, ``backoff_delays``), for at most
    ``limit`` seconds after the drop; the drop and its reconnection are counted in ``res.drops``. False: gave up
    (the session is then gone)."""
    if not session.dropped:
        return not session.gone
    limit = RECONNECT_LIMIT if limit is None else limit
    drop = Drop(who=session.label, at=session.dropped_at or time.monotonic(), replica=session.replica)
    res.drops.append(drop)
    delays = backoff_delays()
    while True:
        drop.attempts += 1
        try:
            await asyncio.wait_for(session.reopen(), min(session.timeout, REOPEN_TIMEOUT))
        except DROP_ERRORS as exc:
            drop.why = str(exc) or type(exc).__name__
        else:
            drop.back, drop.replica_after = time.monotonic(), session.replica
            session.reconnects += 1
            return True
        delay = next(delays)
        if time.monotonic() + delay > drop.at + limit:
            await session.close()  # gone: counted as not reconnected
            return False
        await asyncio.sleep(delay)


async def _act(res: Results, session: Session, action: str, make: Callable, role: str = "click") -> bool:
    if res.clicks >= MAX_CLICKS or session.gone:
        return False
    if session.dropped and not await _reconnect(res, session):
        return False
    res.clicks += 1
    sent = time.monotonic()
    try:
        seconds = await make(session)
    except DROP_ERRORS as exc:
        if await _was_dropped(session, exc):  # in flight on a replica that died: counted apart, then reconnect
            res.in_flight_lost.append((session.dropped_at or sent, action))
            await _reconnect(res, session)
            return False
        res.fail(action, str(exc) or type(exc).__name__)
        return False
    if seconds is not None:
        res.add(action, seconds)
        res.add("ALL " + role + "s", seconds)
        if role == "click":
            res.click_log.append((sent, seconds))
    return True


async def _think(session: Session, res: Results, seconds: float, until: float) -> None:
    """Think time; the browser keeps running the page's fragment timers meanwhile."""
    end = min(time.monotonic() + seconds, until)
    while time.monotonic() < end and not session.gone:
        if session.dropped:
            await _reconnect(res, session)
            continue
        if session.auto:
            sent = time.monotonic()
            try:
                dt = await session.tick()
            except DROP_ERRORS as exc:
                if await _was_dropped(session, exc):
                    res.in_flight_lost.append((session.dropped_at or sent, "auto-rerun"))
                else:
                    res.fail("auto-rerun", str(exc))
                dt = None
            if dt is not None:
                res.add("auto-rerun (fragment timer)", dt)
        await asyncio.sleep(0.1)


async def clicker(i: int, base: str, until: float, res: Results, seed: int, think: tuple[float, float],
                  timeout: float, walk: str = "schema") -> None:
    rng = random.Random(seed * 1000 + i)
    if walk == "schema":
        import draws
        from ui.nav import available_lessons

        params = draws.declared()
        pages = [path for _, _, _, path in available_lessons()]
        seqs = None
    else:
        seqs = sequences(rng)
        pages = list(seqs)
    rng.shuffle(pages)
    await asyncio.sleep(rng.uniform(0, think[1]))  # students don't all arrive in the same second
    s = Session(base, timeout=timeout)
    s.label = f"clicker {i}"
    try:
        first = pages[0]
        ok = await _act(res, s, f"{first}.open", lambda ss: ss.open(first), role="open")
        if not ok:
            return
        n = 0
        while time.monotonic() < until:
            page = pages[n % len(pages)]
            if n:
                await _act(res, s, f"{page}.open", lambda ss: ss.goto(page), role="open")
            if seqs is None:
                for _ in range(rng.randint(3, 6)):
                    await _think(s, res, rng.uniform(*think), until)
                    if time.monotonic() >= until or s.gone:
                        return
                    d = draws.draw(rng, s.widgets, params)
                    if d is None:
                        break
                    await _act(res, s, f"{page}.{d.key}", lambda ss, d=d: ss.change(d.key, d.make))
            else:
                for action, make in seqs[page]:
                    await _think(s, res, rng.uniform(*think), until)
                    if time.monotonic() >= until or s.gone:
                        return
                    await _act(res, s, action, make)
            await _think(s, res, rng.uniform(*think), until)
            n += 1
    finally:
        await s.close()


async def trainer(i: int, base: str, until: float, res: Results, seed: int, think: tuple[float, float],
                  timeout: float, train_size: int, train_wait: float) -> None:
    """A student who opens the Train page, presses Start and waits (watching the progress) for the run.

    As a learner would: a lost training's Retry is pressed; after a reconnection (its replica died) the page names
    the training its URL's ``?job=`` holds: still ending on the engine (waited for), then interrupted with a Retry
    (pressed, counted as rejoined); a page that shows neither its training nor a Retry nor that wait gets Start
    pressed again (counted: "lost silently"). Once finished, the tab
    stays open until the level ends: should its replica die then, the reconnected page must bring the run back by
    its ``?run=`` link (counted)."""
    from explainer.i18n import translate

    rng = random.Random(seed * 7919 + i)
    rec = TrainerRecord(i)
    res.trainers.append(rec)
    await asyncio.sleep(rng.uniform(0, think[1]))
    s = Session(base, timeout=timeout)
    s.label = f"trainer {i}"
    done_text = translate("train.runs_header", "en")
    waiting_text = translate("train.rejoin_waiting", "en")

    def shown_done() -> bool:
        return any(done_text in text for text in s.texts)

    def rejoining() -> bool:  # a reconnected page waits for the training its ?job= names to end on the engine
        return any(waiting_text in text for text in s.alerts)

    def running() -> bool:  # this session holds a training: its Stop is enabled
        stop = s.widgets.get("tr_stop")
        return stop is not None and not getattr(stop.proto, "disabled", True)

    async def press_start(action: str) -> bool:
        for _ in range(3):  # a Start in flight on a replica that died: pressed again once reconnected
            drops = len(res.in_flight_lost)
            if await _act(res, s, action, lambda ss: ss.click("tr_start")):
                return True
            if len(res.in_flight_lost) == drops or s.gone:
                return False
        return False

    try:
        if not await _act(res, s, "train.open", lambda ss: ss.open("train"), role="open"):
            return
        await _think(s, res, rng.uniform(*think), until)
        if train_size:
            opts_idx = _tr_size_index(s.options("tr_size"), train_size)
            await _act(res, s, "train.size", lambda ss: ss.choose("tr_size", opts_idx))
        t0 = time.monotonic()
        if not await press_start("train.start"):
            return
        rec.started, rec.replica = t0, s.replica
        res.trainings_started += 1
        # keep the session open like a browser tab: the progress fragment reruns every second
        give_up = t0 + train_wait
        seen = s.reconnects
        dropped = False  # reconnected since the last Retry: a Retry now is the reconnected page's
        try:
            while time.monotonic() < give_up and not s.gone:
                if s.reconnects != seen:  # a new session on a live replica: what does the page show?
                    seen = s.reconnects
                    rec.drops += 1
                    dropped = True
                    if shown_done():  # it had finished on the dead replica: back by its ?run= link
                        rec.link_back.append("run=" in s.query)
                    elif not (running() or "tr_retry" in s.widgets or rejoining()):
                        rec.lost_silently += 1  # nothing says what became of it: the learner starts again
                        if await press_start("train.start again (lost silently)"):
                            rec.started_again += 1
                        continue
                if shown_done():
                    res.trainings_finished += 1
                    res.train_seconds.append(time.monotonic() - t0)
                    rec.finished_after = time.monotonic() - t0
                    break
                if "tr_retry" in s.widgets:  # the engine lost it (a killed scheduler): the learner presses Retry
                    if await _act(res, s, "train.retry", lambda ss: ss.click("tr_retry")):
                        res.retried += 1
                        rec.retried += 1
                        rec.rejoined += dropped
                        dropped = False
                await _think(s, res, 0.5, give_up)
            else:
                res.fail("train.finished", f"no finished run within {train_wait:.0f} s")
        finally:
            _record_queue(res, s.progress)
        # finished: the tab stays open; a later drop must bring the run back by its link
        while time.monotonic() < until and not s.gone:
            await _think(s, res, 1.0, until)
            if s.reconnects != seen:
                seen = s.reconnects
                rec.drops += 1
                rec.link_back.append(shown_done() and "run=" in s.query)
    finally:
        await s.close()


def _record_queue(res: Results, progress_texts: list[str]) -> None:
    """The queue positions one trainer's page showed ("Queued — n ahead of you"), in order."""
    import re

    from explainer.i18n import translate

    pattern = re.escape(translate("jobs.queued", "en", ahead="AHEAD", wait="WAIT"))
    pattern = pattern.replace("AHEAD", r"(\d+)").replace("WAIT", r"\d+")
    soon = translate("jobs.queued_soon", "en")
    shown: list[int] = []
    for text in progress_texts:
        m = re.search(pattern, text)
        if m and (not shown or shown[-1] != int(m.group(1))):
            shown.append(int(m.group(1)))
    if shown:
        res.queue_shown.append(shown)
    elif any(soon in text for text in progress_texts):
        res.queued_soon += 1


# ---------------------------------------------------------------- the server and its resources
class Server:
    """A streamlit process on a free loopback port (or a given URL); samples its RSS and CPU."""

    def __init__(self, url: str | None = None, pids: list[int] | None = None, env: dict | None = None,
                 args: list[str] | None = None, name: str = "server"):
        self.name, self.proc, self.pids = name, None, list(pids or [])
        if url is None:
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port",
                   str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                   "--browser.gatherUsageStats", "false", *(args or [])]
            full_env = {**os.environ, **(env or {})}
            if not full_env.get("MNIST_DIR") and (ROOT.parent / "shared" / "mnist").is_dir():
                full_env["MNIST_DIR"] = str(ROOT.parent / "shared" / "mnist")
            self.log = open(os.devnull, "wb")
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            self.pids = [self.proc.pid]
            self.wait_healthy()
        else:
            check_loopback(url)
            self.url = url.rstrip("/")

    def wait_healthy(self, limit: float = 120.0) -> None:
        wait_healthy(self.url, self.proc, self.name, limit)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu_seconds(self) -> float | None:
        """CPU seconds used so far by the server's process(es) (with --url, every pid given)."""
        total = 0.0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    parts = f.read().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
        return total if self.pids else None

    def rss_mb(self) -> float | None:
        """Resident memory of the server's process(es), added up."""
        total = 0.0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                return None
        return total if self.pids else None


async def _sample(server: Server, samples: list, stop: asyncio.Event, every: float = 1.0) -> None:
    t0 = time.monotonic()
    while not stop.is_set():
        samples.append((time.monotonic() - t0, server.rss_mb()))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def run_level(server: Server, n: int, storm: int, args) -> dict:
    """One level of load: ``n`` students (``storm`` of them train) for ``args.duration`` seconds."""
    res = Results()
    samples: list = []
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(_sample(server, samples, stop))
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    until = t0 + args.duration
    think = (args.think_min, args.think_max)
    tasks = [clicker(i, server.url, until, res, args.seed, think, args.click_timeout, args.walk)
             for i in range(n - storm)]
    tasks += [trainer(i, server.url, until, res, args.seed, think, args.click_timeout, args.train_size,
                      args.train_wait) for i in range(storm)]
    killer = asyncio.ensure_future(_kill_on_time(args.kill, args.supervisor, t0, res)) if args.kill else None
    await asyncio.wait_for(asyncio.gather(*tasks), args.duration + args.train_wait + args.click_timeout + 60)
    if killer is not None:
        await killer
    wall = time.monotonic() - t0
    cpu1 = server.cpu_seconds()
    stop.set()
    await sampler
    rss = [r for _, r in samples if r is not None]
    return {"students": n, "storm": storm, "res": res, "wall": wall,
            "cpu": (cpu1 - cpu0) / wall if cpu0 is not None and cpu1 is not None else None,
            "rss_peak": max(rss) if rss else None, "rss_end": rss[-1] if rss else None, "samples": samples}


def _kills(spec: str) -> list[tuple[float, str]]:
    """``"40:worker1,80:scheduler"`` → [(40.0, "worker1"), (80.0, "scheduler")]: seconds into the level, program."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        at, _, name = part.partition(":")
        out.append((float(at), name))
    return sorted(out)


async def _kill_on_time(spec: str, supervisor: str, t0: float, res: Results) -> None:
    """SIGKILL each program of ``spec`` at its time, through ``supervisorctl -c supervisor`` (deploy/classroom.sh's
    supervisord, which then restarts it): a fault in the middle of a class."""
    for at, name in _kills(spec):
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        sent = time.monotonic()  # the kill's time is when it was asked for: its students drop within the call
        proc = await asyncio.create_subprocess_exec("supervisorctl", "-c", supervisor, "signal", "KILL", name,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        res.kills.append((sent, name))
        print(f"  killed {name} at {sent - t0:.0f} s: {out.decode().strip()}", flush=True)


def programs(supervisor: str) -> list[str]:
    """The programs of a supervisord.conf (``[program:NAME]`` sections)."""
    try:
        text = Path(supervisor).read_text()
    except OSError:
        return []
    return re.findall(r"^\[program:([A-Za-z0-9_-]+)\]", text, re.M)


def recovery(res: Results, window: float = 30.0) -> list[tuple[str, int, float | None]]:
    """Per kill: (program, clicks sent in the ``window`` seconds after it, their p95)."""
    out = []
    for at, name in res.kills:
        v = [sec for sent, sec in res.click_log if at <= sent < at + window]
        out.append((name, len(v), _pct(v, .95) if v else None))
    return out


def kill_of(kills: list[tuple[float, str]], t: float, slack: float = 1.0) -> int | None:
    """The index of the kill an event at ``t`` follows (the latest one asked for before it), or None."""
    found = None
    for k, (at, _) in enumerate(kills):
        if at - slack <= t:
            found = k
    return found


def per_kill(res: Results, window: float = 30.0) -> list[dict]:
    """Per kill: the clicks' p95 in the ``window`` after it, the students whose websocket dropped (attributed to the
    latest kill before the drop), how many reconnected and how fast, the clicks in flight on the dead replica, and
    the real errors in the window."""
    rows = []
    for k, (at, name) in enumerate(res.kills):
        v = [sec for sent, sec in res.click_log if at <= sent < at + window]
        drops = [d for d in res.drops if kill_of(res.kills, d.at) == k]
        back = sorted(d.seconds for d in drops if d.seconds is not None)
        rows.append({
            "program": name, "clicks": len(v), "p95": _pct(v, .95) if v else None,
            "disconnected": len(drops), "students": len({d.who for d in drops}),
            "reconnected": len(back), "reconnect_p50": _pct(back, .5) if back else None,
            "reconnect_max": back[-1] if back else None,
            "moved": sum(1 for d in drops if d.back is not None and d.replica_after != d.replica),
            "in_flight_lost": sum(1 for seen, _ in res.in_flight_lost if kill_of(res.kills, seen) == k),
            "errors": sum(1 for t in res.error_log if at <= t < at + window),
        })
    return rows


async def warm_up(server: Server, timeout: float) -> None:
    """Visit every page once (imports, caches, MNIST) so the first students don't measure the cold start."""
    from ui.nav import available_lessons

    s = Session(server.url, timeout=max(timeout, 180))
    try:
        await s.open("kernels")
        for page in [path for _, _, _, path in available_lessons()]:
            if page != "kernels":
                await s.goto(page)
    finally:
        await s.close()


# ---------------------------------------------------------------- report
def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s")


def print_level(label: str, lvl: dict, per_action: bool = True) -> None:
    res: Results = lvl["res"]
    cpu = "—" if lvl["cpu"] is None else f"{lvl['cpu']:.2f} cores"
    rss = "—" if lvl["rss_peak"] is None else f"{lvl['rss_peak']:.0f} MB peak, {lvl['rss_end']:.0f} MB end"
    print(f"\n## {label}: {lvl['students']} students"
          + (f" ({lvl['storm']} press Start on Train)" if lvl["storm"] else "")
          + f", {lvl['wall']:.0f} s · server CPU {cpu} · RSS {rss}")
    if per_action:
        print("| action | n | p50 | p95 | max | errors |\n|---|---|---|---|---|---|")
        names = sorted(set(res.times) | set(res.errors), key=lambda a: (not a.startswith("ALL"), a))
        for a in names:
            v = res.times.get(a, [])
            print(f"| {a} | {len(v)} | {fmt_s(_pct(v, .5)) if v else '—'} | {fmt_s(_pct(v, .95)) if v else '—'} | "
                  f"{fmt_s(max(v)) if v else '—'} | {res.errors.get(a, 0)} |")
    for a, why in res.error_examples.items():
        print(f"  error in {a}: {why}")
    if lvl["storm"]:
        ts = res.train_seconds
        print(f"  trainings: {res.trainings_started} started, {res.trainings_finished} finished"
              + (f", Start → finished run p50 {fmt_s(_pct(ts, .5))}, max {fmt_s(max(ts))}" if ts else ""))
        q = res.queue_shown
        print(f"  queue: {len(q)} of {res.trainings_started} trainers were shown 'n ahead of you'"
              + (f" (first position shown: {sorted(x[0] for x in q)}; every one counted down to the last shown: "
                 f"{sum(all(a > b for a, b in zip(x, x[1:])) for x in q)} of {len(q)})" if q else "")
              + f"; {res.queued_soon} only 'starting in a moment'; the rest started at once")
        if res.kills or res.retried:
            print(f"  lost trainings retried by their learner (Retry pressed): {res.retried}")
    if res.kills:
        print("\n| killed | clicks in the 30 s after | their p95 | students disconnected | reconnected | "
              "to another replica | time to reconnect p50 / max | clicks in flight on the dead replica | "
              "errors in the 30 s after |\n|---|---|---|---|---|---|---|---|---|")
        for r in per_kill(res):
            print(f"| {r['program']} | {r['clicks']} | {fmt_s(r['p95'])} | {r['disconnected']} | {r['reconnected']} | "
                  f"{r['moved']} | {fmt_s(r['reconnect_p50'])} / {fmt_s(r['reconnect_max'])} | "
                  f"{r['in_flight_lost']} | {r['errors']} |")
    unattributed = [d for d in res.drops if kill_of(res.kills, d.at) is None]
    if unattributed:
        print(f"  websockets dropped with no kill before them: {len(unattributed)} "
              f"({', '.join(sorted({d.who for d in unattributed}))[:200]})")
    gave_up = [d for d in res.drops if d.back is None]
    for d in gave_up:
        print(f"  {d.who} did not reconnect ({d.attempts} attempts in {RECONNECT_LIMIT:.0f} s): {d.why[:120]}")
    if res.in_flight_lost:
        by: dict[str, int] = {}
        for _, a in res.in_flight_lost:
            by[a] = by.get(a, 0) + 1
        print("  clicks in flight on a dead replica (reconnected, not counted as errors): "
              + ", ".join(f"{a} {n}" for a, n in sorted(by.items())))
    if lvl["storm"] and res.trainers:
        print("\n| trainer | started on | websocket drops | Retry pressed (after a reconnection) | lost silently "
              "(started again) | finished after | outcome | finished run back by its link after a drop |\n"
              "|---|---|---|---|---|---|---|---|")
        for r in sorted(res.trainers, key=lambda r: r.i):
            print(f"| {r.i} | {r.replica or '—'} | {r.drops} | {r.retried} ({r.rejoined}) | {r.lost_silently} "
                  f"({r.started_again}) | "
                  f"{fmt_s(r.finished_after)} | {r.outcome} | "
                  f"{', '.join('yes' if b else 'NO' for b in r.link_back) or '—'} |")
        outcomes = [r.outcome for r in res.trainers]
        print(f"  trainers: {outcomes.count('finished')} finished, "
              f"{outcomes.count('finished after Retry')} finished after Retry, "
              f"{sum(1 for r in res.trainers if r.lost_silently)} lost silently "
              f"({outcomes.count('lost silently, started again, finished')} of them finished once started again), "
              f"{sum(1 for o in outcomes if o in ('not finished', 'not started', 'lost silently, not finished'))} "
              f"not finished or not started")


def summary(lvl: dict) -> tuple:
    clicks = lvl["res"].times.get("ALL clicks", [])
    errors = sum(lvl["res"].errors.values())
    return (len(clicks), _pct(clicks, .5) if clicks else None, _pct(clicks, .95) if clicks else None,
            max(clicks) if clicks else None, errors, lvl["cpu"], lvl["rss_peak"])


def print_compare(levels: list[tuple[str, dict]], names: list[str]) -> None:
    print("\n## before / after (clicks only; opens and fragment timers are in the per-level tables)")
    print("| students | variant | clicks | p50 | p95 | max | errors | server CPU | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, lvl in levels:
        n, p50, p95, mx, err, cpu, rss = summary(lvl)
        print(f"| {lvl['students']}{' (storm ' + str(lvl['storm']) + ')' if lvl['storm'] else ''} | {name} | {n} | "
              f"{fmt_s(p50)} | {fmt_s(p95)} | {fmt_s(mx)} | {err} | "
              f"{'—' if cpu is None else f'{cpu:.2f}'} | {'—' if rss is None else f'{rss:.0f} MB'} |")


def print_memory(label: str, samples: list) -> None:
    if not samples:
        return
    print(f"\n## {label}: server RSS over time")
    step = max(1, len(samples) // 12)
    print("| t | RSS |\n|---|---|")
    for t, r in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        print(f"| {t:.0f} s | {'—' if r is None else f'{r:.0f} MB'} |")


# ---------------------------------------------------------------- main
VARIANTS = {
    # Streamlit's default: a full gc.collect() after every script run, no gc.freeze (the app before the fix)
    "gc": [("before: postScriptGC on, no freeze", {"EXPLAINER_GC_FREEZE": "0"}, ["--runner.postScriptGC", "true"]),
           ("after: app settings", {}, [])],
}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="a running server on loopback, e.g. http://127.0.0.1:8501")
    where.add_argument("--start", action="store_true", help="start a server from this working tree (default)")
    where.add_argument("--compare", choices=sorted(VARIANTS), help="the same load on servers without and with a fix")
    p.add_argument("--server-pid", default="",
                   help="with --url: the server's pid(s), comma-separated (e.g. each replica behind HAProxy), "
                        "for their RSS and CPU, added up")
    p.add_argument("--students", default="10", help="comma-separated levels, e.g. 1,10,30")
    p.add_argument("--storm", type=int, default=0, help="of each level's students, this many press Start on Train")
    p.add_argument("--duration", type=float, default=40.0, help="seconds of clicking per level")
    p.add_argument("--think-min", type=float, default=2.0)
    p.add_argument("--think-max", type=float, default=6.0)
    p.add_argument("--click-timeout", type=float, default=180.0, help="a click without script_finished → error")
    p.add_argument("--train-size", type=int, default=0, help="trainers pick this training-set size (0: page default)")
    p.add_argument("--train-wait", type=float, default=300.0, help="seconds a trainer waits for its finished run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kill", default="", help="faults during each level: SECONDS:PROGRAM,… SIGKILLed through "
                   "supervisorctl (deploy/classroom.sh's programs: web1, worker1, scheduler…); needs --supervisor")
    p.add_argument("--supervisor", default="", help="deploy/classroom.sh's supervisord.conf (for --kill)")
    p.add_argument("--walk", choices=("schema", "presets"), default="schema",
                   help="schema: widget values drawn from ui/tables on every lesson (bench/draws.py); "
                        "presets: the older fixed sequences")
    p.add_argument("--memory", action="store_true", help="print the server's RSS over time per level")
    p.add_argument("--quiet", action="store_true", help="only the summary table, no per-action tables")
    a = p.parse_args(argv)
    a.levels = [int(x) for x in a.students.split(",") if x.strip()]
    a.server_pids = [int(x) for x in a.server_pid.split(",") if x.strip()]
    if not a.levels or any(n < 1 or n > MAX_STUDENTS for n in a.levels):
        p.error(f"--students: 1 … {MAX_STUDENTS} each")
    if a.storm < 0 or any(a.storm > n for n in a.levels):
        p.error("--storm must be ≤ every level's students")
    if not 1 <= a.duration <= MAX_DURATION:
        p.error(f"--duration: 1 … {MAX_DURATION:.0f} s")
    a.click_timeout = min(max(a.click_timeout, 1.0), MAX_DURATION)
    a.train_wait = min(max(a.train_wait, 1.0), MAX_DURATION)
    if not 0 <= a.think_min <= a.think_max <= 60:
        p.error("think time: 0 ≤ min ≤ max ≤ 60")
    if a.kill:
        if not a.supervisor or not Path(a.supervisor).is_file():
            p.error("--kill needs --supervisor, deploy/classroom.sh's supervisord.conf")
        try:
            kills = _kills(a.kill)
        except ValueError:
            p.error("--kill: SECONDS:PROGRAM,…")
        if not all(0 <= at < a.duration and re.fullmatch(r"[A-Za-z0-9_-]+", name) for at, name in kills):
            p.error("--kill: each time within the level, each program a supervisord name")
        known = programs(a.supervisor)
        unknown = sorted({name for _, name in kills} - set(known))
        if unknown:
            p.error(f"--kill: no program {', '.join(unknown)} in {a.supervisor} (it has: {', '.join(known)})")
    return a


async def main_async(a) -> None:
    sys.path.insert(0, str(ROOT))
    variants = VARIANTS[a.compare] if a.compare else [("server", {}, [])]
    servers: list[tuple[str, Server]] = []
    try:
        for name, env, extra in variants:
            if a.url:
                servers.append((name, Server(url=a.url, pids=a.server_pids)))
            else:
                print(f"starting {name} …", flush=True)
                servers.append((name, Server(env=env, args=extra, name=name)))
        for name, srv in servers:
            await warm_up(srv, a.click_timeout)
        results: list[tuple[str, dict]] = []
        for n in a.levels:
            for name, srv in servers:  # interleaved, so a change in the machine's load hits both alike
                lvl = await run_level(srv, n, a.storm, a)
                results.append((name, lvl))
                print_level(name, lvl, per_action=not a.quiet)
                if a.memory:
                    print_memory(f"{name}, {n} students", lvl["samples"])
        print_compare(results, [v[0] for v in variants])
    finally:
        for _, srv in servers:
            srv.stop()


def main(argv=None) -> None:
    a = parse(argv)
    print(f"# classroom: levels {a.levels}, storm {a.storm}, {a.duration:.0f} s each, think "
          f"{a.think_min:g}–{a.think_max:g} s, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
