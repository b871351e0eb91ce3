"""``streamlit run`` with CPU counters: the bench's view into the server (never used by the app).

    python bench/cpuhook.py COUNTER_FILE -- run streamlit_app.py --server.port 8599 ...

Before handing over to Streamlit's command line it wraps two functions of the server:

- ``ScriptRunner._run_script`` (one script run — a full rerun or a fragment run — on the session's script
  thread): the thread CPU time (``time.thread_time``) it used, including Streamlit's post-run work there
  (widget state, the forward-message hashes, the GC);
- ``serialize_forward_msg`` in the websocket layer (each delta serialised for the browser, on the event-loop
  thread): its thread CPU time.

The running totals (script CPU s, serialisation CPU s, script runs, bytes serialised) are kept in a small
memory-mapped file, which ``bench/clicks.py`` reads before a click and after its ``script_finished``: the
difference is that click's server CPU. Only one session should click at a time for the split to mean a click.
"""
from __future__ import annotations

import mmap
import os
import struct
import sys
import threading
import time

FORMAT = "4d"
SIZE = struct.calcsize(FORMAT)


def read(path: str) -> tuple[float, float, float, float]:
    """(script CPU s, serialisation CPU s, runs, bytes) so far."""
    with open(path, "rb") as f:
        return struct.unpack(FORMAT, f.read(SIZE))


def install(path: str) -> None:
    with open(path, "wb") as f:
        f.write(b"\0" * SIZE)
    f = open(path, "r+b")
    mm = mmap.mmap(f.fileno(), SIZE)
    acc = [0.0, 0.0, 0.0, 0.0]
    lock = threading.Lock()
    local = threading.local()

    def publish() -> None:
        mm[:SIZE] = struct.pack(FORMAT, *acc)

    from streamlit.runtime.scriptrunner import script_runner

    orig_run = script_runner.ScriptRunner._run_script

    profile_dir = os.environ.get("CPUHOOK_PROFILE_DIR")  # one cProfile file per script run: <run index>.prof
    if profile_dir:
        os.makedirs(profile_dir, exist_ok=True)

    def _run_script(self, rerun_data):
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        prof = None
        if profile_dir and depth == 0:
            import cProfile

            prof = cProfile.Profile(time.thread_time)  # CPU, not wall time (a busy machine)
            prof.enable()
        t0 = time.thread_time()
        try:
            return orig_run(self, rerun_data)
        finally:
            dt = time.thread_time() - t0
            local.depth = depth
            if prof is not None:
                prof.disable()
            if depth == 0:
                with lock:
                    if prof is not None:
                        prof.dump_stats(os.path.join(profile_dir, f"{int(acc[2])}.prof"))
                    acc[0] += dt
                    acc[2] += 1
                    publish()

    script_runner.ScriptRunner._run_script = _run_script

    from streamlit.web.server.starlette import starlette_websocket

    orig_ser = starlette_websocket.serialize_forward_msg

    def serialize_forward_msg(msg):
        t0 = time.thread_time()
        out = orig_ser(msg)
        with lock:
            acc[1] += time.thread_time() - t0
            acc[3] += len(out)
            publish()
        return out

    starlette_websocket.serialize_forward_msg = serialize_forward_msg


def main() -> None:
    path = sys.argv[1]
    args = sys.argv[sys.argv.index("--") + 1:]
    install(path)
    from streamlit.web import cli

    sys.argv = ["streamlit", *args]
    cli.main()


if __name__ == "__main__":
    main()
