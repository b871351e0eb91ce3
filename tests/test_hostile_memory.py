"""Memory limits, measured: decoding an upload, loading a checkpoint and reading MNIST files made to be
expensive grow a fresh process's peak resident memory (``VmHWM``) by less than 350 MB.

Each case runs in its own subprocess: the crafted file is written first (by this process), the child
imports what it needs, reads the file, notes its peak, does the one operation and reports the growth.
"""
from __future__ import annotations

import gzip
import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT

LIMIT_MB = 350

CHILD = r"""
import json, sys
sys.path.insert(0, {root!r})
{imports}


def status(field):  # kB, from the kernel's accounting of this process
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


data = open({path!r}, "rb").read()
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current resident size
    fh.write("5")
before = status("VmRSS")
try:
    {call}
    outcome = "ok"
except Exception as exc:  # a refusal (UserError) is a fine outcome; only memory is measured here
    outcome = type(exc).__name__ + ":" + getattr(exc, "key", "")
after = status("VmHWM")
print(json.dumps({{"growth_mb": (after - before) / 1024, "outcome": outcome}}))
"""
# (ru_maxrss would not do: Linux carries it over from the parent across exec, and pytest's process is large.)


def peak_growth(path: Path, imports: str, call: str) -> dict:
    code = CHILD.format(root=str(ROOT), imports=imports, path=str(path), call=call)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _save(im: Image.Image, path: Path, **kw) -> Path:
    im.save(path, **kw)
    return path


UPLOADS = {
    # the cases: a 77 KB 16-bit PNG of 6300×6300 (~1 GB before), an RGBA one (~790 MB)
    "png16_6300": lambda p: _save(Image.new("I;16", (6300, 6300)), p / "a.png"),
    "rgba_6300": lambda p: _save(Image.new("RGBA", (6300, 6300)), p / "a.png"),
    # the largest allowed of each kind
    "png16_4000": lambda p: _save(Image.new("I;16", (4000, 4000), 30000), p / "a.png"),
    "rgba_4000": lambda p: _save(Image.new("RGBA", (4000, 4000), (10, 20, 30, 128)), p / "a.png"),
    "float_tiff_4000": lambda p: _save(Image.new("F", (4000, 4000), 1.5), p / "a.tif", compression="tiff_deflate"),
    "rgb_6300": lambda p: _save(Image.new("RGB", (6300, 6300), (1, 2, 3)), p / "a.png"),
    "palette_6300": lambda p: _save(Image.new("P", (6300, 6300), 3), p / "a.png"),
    "cmyk_jpeg_4000": lambda p: _save(Image.new("CMYK", (4000, 4000), (1, 2, 3, 4)), p / "a.jpg"),
    "jpeg_6300": lambda p: _save(Image.new("RGB", (6300, 6300), (9, 9, 9)), p / "a.jpg"),
}


@pytest.mark.parametrize("name", sorted(UPLOADS))
def test_upload_decode_memory(name, tmp_path):
    path = UPLOADS[name](tmp_path)
    res = peak_growth(path, "from explainer.data.images import decode_upload", "decode_upload(data)")
    print(f"{name}: {path.stat().st_size / 1e3:.0f} kB → +{res['growth_mb']:.0f} MB ({res['outcome']})")
    assert res["growth_mb"] < LIMIT_MB, res
    assert res["outcome"] == "ok" or "upload_deep_too_big" in res["outcome"]


def _bomb_checkpoint(path: Path, mb: int = 256) -> Path:
    """A real checkpoint plus one deflated 256 MB tensor entry, streamed (never held in memory here)."""
    from explainer.learning.models import build_model
    from explainer.learning.train import TrainConfig, save_checkpoint

    good = save_checkpoint(build_model("fast"), TrainConfig())
    with zipfile.ZipFile(io.BytesIO(good)) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for e in zin.infolist():
            zout.writestr(e.filename, zin.read(e.filename))
        with zout.open("archive/data/99", "w", force_zip64=True) as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(mb):
                fh.write(chunk)
    return path


def test_checkpoint_bomb_memory(tmp_path):
    path = _bomb_checkpoint(tmp_path / "bomb.pt")
    assert path.stat().st_size < 2_000_000  # ≈ 1000:1
    res = peak_growth(path, "from explainer.learning.train import load_checkpoint", "load_checkpoint(data)")
    print(f"checkpoint bomb: {path.stat().st_size / 1e3:.0f} kB → +{res['growth_mb']:.0f} MB ({res['outcome']})")
    assert res["growth_mb"] < LIMIT_MB and "checkpoint_packed" in res["outcome"], res


def test_good_checkpoint_load_memory(tmp_path):
    from explainer.learning.models import build_model
    from explainer.learning.train import TrainConfig, save_checkpoint

    path = tmp_path / "good.pt"
    path.write_bytes(save_checkpoint(build_model("fast"), TrainConfig()))
    res = peak_growth(path, "from explainer.learning.train import load_checkpoint", "load_checkpoint(data)")
    assert res["outcome"] == "ok" and res["growth_mb"] < LIMIT_MB, res


def test_mnist_gzip_bomb_memory(tmp_path):
    """A small .gz whose body inflates to 256 MB behind a header that promises 10,000 labels."""
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 10_000))
        chunk = np.zeros(1 << 20, dtype=np.uint8).tobytes()
        for _ in range(256):
            fh.write(chunk)
    res = peak_growth(path, "from explainer.data.mnist import read_idx", f"read_idx({str(path)!r})")
    print(f"mnist gzip bomb: {path.stat().st_size / 1e3:.0f} kB → +{res['growth_mb']:.0f} MB ({res['outcome']})")
    assert res["growth_mb"] < LIMIT_MB and "MnistCorrupt" in res["outcome"], res
