"""Issue 21's store and decode attacks, measured (numbers for the closing note's table of attacks → outcome).

    python bench/hostile.py [--tree PATH] [store] [decodes]

``--tree`` is a checkout to measure (default this one; an older tree with the flat ``explainer/`` layout, such
as 6923cc1, works too, for the before column). Each attack runs in a fresh Python process with that tree first
on ``sys.path``:

- ``store``: the run store at its default caps in a temporary folder: 100 other learners' runs (200 kB each),
  then one visitor's 32 saves of a 15.8 MB checkpoint and 44 small ones from one session, then 40 more
  sessions of that visitor (no cookie: each its own owner) saving 15.8 MB each, then 10 newcomers saving 1 MB
  each. Prints how many of the 100 are kept after each phase, what was refused and the store's size.
- ``decodes``: ten decodes at once of a small PNG of 39.7 MP: the process's peak growth (RSS sampled every
  2 ms), how many decoded and how many were told to retry.

Nothing listens on a socket; the temporary folder is removed."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STORE = r'''
import inspect, shutil, tempfile, time
from pathlib import Path
try:
    from explainer.engine.runstore import RunStore
    from explainer.learning.runs import KeptRun
    from explainer.learning.train import TrainConfig
    RUN = KeptRun(label="r", config=TrainConfig(model="mlp"), history=[], test_accuracy=0.9)
except ImportError:  # the flat layout (before issue 20), where runs were dicts
    from explainer.runstore import RunStore
    RUN = {"label": "r", "config": {"model": "mlp"}, "history": [], "test_accuracy": 0.9}
from explainer.errors import UserError

root = Path(tempfile.mkdtemp(prefix="bench-hostile-store-"))
try:
    store = RunStore(root)
    owners = "owner" in inspect.signature(store.save).parameters

    def save(blob, owner):
        return store.save(RUN, blob, owner=owner) if owners else store.save(RUN, blob)

    MB = 2 ** 20
    big = b"B" * int(15.8 * MB)
    others = [save(b"o" * 200_000, f"learner-{k % 10}") for k in range(100)]
    t0 = time.monotonic()
    for _ in range(32):
        save(big, "visitor")
    for _ in range(44):
        save(b"s" * 100_000, "visitor")
    t1 = time.monotonic()
    kept = len(set(others) & set(store.ids()))
    print(f"one session's 76 saves ({t1 - t0:.1f} s): {kept}/100 other runs kept; store {len(store.ids())} runs, "
          f"{store.total_bytes() / MB:.0f} MB")
    refused = 0
    for k in range(40):
        try:
            save(big, f"tab-{k}")
        except UserError:
            refused += 1
    t2 = time.monotonic()
    kept = len(set(others) & set(store.ids()))
    print(f"40 more sessions' 15.8 MB saves ({t2 - t1:.1f} s): {40 - refused} accepted, {refused} refused; "
          f"{kept}/100 other runs kept; store {len(store.ids())} runs, {store.total_bytes() / MB:.0f} MB")
    newcomers = []
    for k in range(10):  # learners who come after the flood, each saving a 1 MB run
        try:
            save(b"n" * MB, f"newcomer-{k}")
            newcomers.append("kept")
        except UserError as exc:
            newcomers.append(exc.key)
    print(f"then 10 newcomers' 1 MB saves: {newcomers.count('kept')} kept, "
          f"{len(newcomers) - newcomers.count('kept')} refused {sorted(set(newcomers) - {'kept'})}")
finally:
    shutil.rmtree(root, ignore_errors=True)
'''

DECODES = r'''
import io, threading, time
import numpy as np
from PIL import Image
try:
    from explainer.data import images
except ImportError:
    from explainer import images
from explainer.errors import UserError

w, h = 7700, 5160  # 39.7 MP, one colour: a PNG of about 126 kB
buf = io.BytesIO()
Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(buf, "PNG", compress_level=9)
png = buf.getvalue()


def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


base, peak, done = rss(), [0], threading.Event()


def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)


ok, told = [], []


def decode():
    try:
        ok.append(images.decode_upload(png)[0].shape)
    except UserError as exc:
        told.append(exc.key)


t0 = time.monotonic()
watcher = threading.Thread(target=watch)
watcher.start()
threads = [threading.Thread(target=decode) for _ in range(10)]
for th in threads:
    th.start()
for th in threads:
    th.join()
done.set()
watcher.join()
print(f"10 decodes at once of a {len(png) / 1024:.0f} kB PNG of {w * h / 1e6:.1f} MP: +{(peak[0] - base) / 2**20:.0f} MB "
      f"peak; {len(ok)} decoded, {len(told)} refused {sorted(set(told))}; {time.monotonic() - t0:.1f} s")
'''


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    p.add_argument("attacks", nargs="*", help="store, decodes (default: both)")
    args = p.parse_args(argv)
    if set(args.attacks) - {"store", "decodes"}:
        p.error(f"unknown attack: {sorted(set(args.attacks) - {'store', 'decodes'})}")
    tree = args.tree.resolve()
    for name in args.attacks or ["store", "decodes"]:
        code = f"import sys; sys.path.insert(0, {str(tree)!r})\n" + {"store": STORE, "decodes": DECODES}[name]
        print(f"== {name} ({tree})", flush=True)
        subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, timeout=900)


if __name__ == "__main__":
    main()
