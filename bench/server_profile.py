"""Where a running Streamlit server spends its script time: a sampling profiler around ``streamlit run``.

    .venv/bin/python bench/server_profile.py /tmp/profile.txt [--delay 60] -- run streamlit_app.py --server.port 8599
    # … drive it (bench/classroom.py --url http://127.0.0.1:8599 --students 10), then Ctrl-C / SIGTERM

Every 5 ms it looks at the stacks of Streamlit's script threads and counts, per function, the samples
where it is on the stack (inclusive) and on top (self). At exit it writes the top 60 of each to the
file. ``--delay S`` starts counting S seconds after the start (skip imports and first visits). Sampling costs a little CPU itself; compare shares, not absolute times.
"""
from __future__ import annotations

import atexit
import collections
import signal
import sys
import threading
import time


def main() -> None:
    out, args = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    head = sys.argv[2:sys.argv.index("--")]
    delay = float(head[head.index("--delay") + 1]) if "--delay" in head else 0.0
    incl: collections.Counter = collections.Counter()
    self_: collections.Counter = collections.Counter()
    n = [0]
    stop = threading.Event()

    def sample() -> None:
        names = {}
        stop.wait(delay)
        while not stop.wait(0.005):
            frames = sys._current_frames()
            for t in threading.enumerate():
                if not t.name.startswith("ScriptRunner") or t.ident not in frames:
                    continue
                f = frames[t.ident]
                n[0] += 1
                seen = set()
                top = True
                while f is not None:
                    code = f.f_code
                    key = names.get(code)
                    if key is None:
                        key = names[code] = f"{code.co_filename.split('site-packages/')[-1]}:{code.co_name}"
                    if top:
                        self_[key] += 1
                        top = False
                    if key not in seen:
                        incl[key] += 1
                        seen.add(key)
                    f = f.f_back

    def dump() -> None:
        stop.set()
        with open(out, "w") as fh:
            fh.write(f"{n[0]} samples of script threads (5 ms apart while a script runs)\n\n## inclusive\n")
            for k, v in incl.most_common(60):
                fh.write(f"{100 * v / max(1, n[0]):5.1f} %  {k}\n")
            fh.write("\n## self\n")
            for k, v in self_.most_common(60):
                fh.write(f"{100 * v / max(1, n[0]):5.1f} %  {k}\n")

    atexit.register(dump)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    threading.Thread(target=sample, daemon=True, name="sampler").start()
    sys.argv = ["streamlit", *args]
    from streamlit.web.cli import main as st_main

    t0 = time.time()
    try:
        st_main()
    finally:
        print(f"profiled {time.time() - t0:.0f} s → {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
