"""Hostile and careless zips for "your own images" (explainer.data.ownimages.read_zip): each gets its own message
(an ``errors.zip.*`` key, in both languages), nothing is written anywhere, and memory stays bounded.

Each case builds its zip in memory from scikit-image's photographs (or from nothing) and must raise the key it
names; the reading runs in an empty working and temporary folder that must still be empty afterwards.
The memory cases run in a subprocess (``tests.test_hostile_memory.peak_growth``: the growth of VmHWM).
"""
from __future__ import annotations

import io
import os
import struct
import tempfile
import time
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from explainer import limits
from explainer.errors import UserError
from explainer.i18n import translate
from explainer.data.ownimages import read_zip
from tests.ownzips import central_records, encode, make_zip, patch_declared_sizes, patch_flags, picture_files

MEMORY_LIMIT_MB = 400  # the goal: peak memory for a 50 MB zip ≤ 400 MB above the idle process


@pytest.fixture(scope="module")
def good() -> dict[str, bytes]:
    """Two classes of five small real pictures each: a zip any case below spoils in one way."""
    return picture_files(5, photos=("coffee", "rocket"), lo=20, hi=40)


def _tiny(i: int) -> bytes:
    return encode(np.full((6, 6), i % 256, np.uint8))


def _png_header_bomb() -> bytes:
    """A valid 1×1 PNG whose header claims 100,000 × 100,000 pixels (CRC fixed, so only the size is a lie)."""
    png = bytearray(encode(np.zeros((1, 1), np.uint8)))
    ihdr = png.find(b"IHDR")
    struct.pack_into(">II", png, ihdr + 4, 100_000, 100_000)
    struct.pack_into(">I", png, ihdr + 17, zlib.crc32(bytes(png[ihdr:ihdr + 17])))
    return bytes(png)


def _overlapping(good: dict) -> bytes:
    """The "overlapping files" bomb: a second directory record that points at the first entry's data."""
    blob = make_zip(dict(list(good.items())[:1]))
    rec = central_records(blob)[0]
    eocd = blob.rfind(b"PK\x05\x06")
    record = bytearray(blob[rec:eocd])
    name_at = 46
    record[name_at] = ord("z")  # same length, another name, same local header offset
    extra = bytes(record)
    head = blob[:eocd] + extra
    n, size, offset = 2, (eocd - rec) * 2, rec
    return head + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, size, offset, 0)


def _lying_count(good: dict) -> bytes:
    blob = bytearray(make_zip(good))
    eocd = blob.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", blob, eocd + 8, 60_000, 60_000)
    return bytes(blob)


def _lying_size() -> bytes:
    """100 MB of zeros (≈ 100 kB deflated) whose directory declares 1,000 bytes: reading stops at the lie."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("a/big.png", "w", force_zip64=True) as fh:
            for _ in range(100):
                fh.write(bytes(1 << 20))
        for i in range(5):
            z.writestr(f"a/{i}.png", _tiny(i))
            z.writestr(f"b/{i}.png", _tiny(i + 100))
    blob = bytearray(buf.getvalue())
    for rec in central_records(bytes(blob)):
        if blob[rec + 46: rec + 46 + 9] == b"a/big.png":
            struct.pack_into("<L", blob, rec + 24, 1000)
    return bytes(blob)


def _with(good: dict, **extra) -> bytes:
    return make_zip({**good, **extra})


def _info(name: str, **kw) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def _special(good: dict, info: zipfile.ZipInfo, data: bytes, compress_type=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": what one case is made of
        for k, v in good.items():
            z.writestr(k, v)
        info.compress_type = compress_type
        z.writestr(info, data)
    return buf.getvalue()


def _comments(n: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(n):
            info = zipfile.ZipInfo(f"c{i % 2}/{i}.png")
            info.comment = b"x" * 65_000
            z.writestr(info, _tiny(i))
    return buf.getvalue()


def _many(n: int, classes: int = 2) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            z.writestr(f"c{i % classes}/{i}.png", b"x")
    return buf.getvalue()


def _tiff() -> bytes:
    return encode(np.zeros((8, 8), np.uint8), "TIFF")


# case → (builder(good), expected key)
CASES = {
    "empty file": (lambda g: b"", "errors.upload_empty"),
    "not a zip": (lambda g: os.urandom(4096), "errors.zip.not_zip"),
    "cut short": (lambda g: make_zip(g)[: len(make_zip(g)) // 2], "errors.zip.not_zip"),
    "over 50 MB": (lambda g: b"PK\x03\x04" + bytes(limits.OWN_ZIP_BYTES), "errors.zip.too_big"),
    "too many entries": (lambda g: _many(limits.OWN_ZIP_ENTRIES + 1), "errors.zip.too_many_entries"),
    "end record lies about the count": (_lying_count, "errors.zip.too_many_entries"),
    "huge directory (comments)": (lambda g: _comments(70), "errors.zip.directory_too_big"),
    "bomb: one entry over 20 MB": (lambda g: _with(g, **{"coffee/z.png": bytes(21 << 20)}), "errors.zip.entry_too_big"),
    "bomb: ratio 1000:1": (lambda g: _with(g, **{"coffee/z.png": bytes(2 << 20)}), "errors.zip.ratio"),
    "bomb: declared total over 200 MB": (
        lambda g: patch_declared_sizes(make_zip({f"c{i % 2}/{i}.png": os.urandom(128 << 10) for i in range(12)},
                                                zipfile.ZIP_STORED), 19 << 20), "errors.zip.unpacked_too_big"),
    "bomb: header understates 100 MB": (lambda g: _lying_size(), "errors.zip.entry_broken"),
    "bomb: overlapping entries": (_overlapping, "errors.zip.overlap"),
    "path traversal ../": (lambda g: _with(g, **{"../evil/x.png": _tiny(1)}), "errors.zip.unsafe_name"),
    "path traversal inside": (lambda g: _with(g, **{"coffee/../../evil.png": _tiny(1)}), "errors.zip.unsafe_name"),
    "absolute name": (lambda g: _with(g, **{"/tmp/evil.png": _tiny(1)}), "errors.zip.unsafe_name"),
    "drive letter": (lambda g: _with(g, **{"C:/evil.png": _tiny(1)}), "errors.zip.unsafe_name"),
    "backslash traversal": (lambda g: _with(g, **{"coffee\\..\\..\\evil.png": _tiny(1)}), "errors.zip.unsafe_name"),
    "symbolic link": (lambda g: _special(g, _info("coffee/link.png", external_attr=0o120777 << 16), b"/etc/passwd"),
                      "errors.zip.link"),
    "nested zip": (lambda g: _with(g, **{"coffee/more.zip": make_zip(g)}), "errors.zip.nested"),
    "zip named .png": (lambda g: _with(g, **{"coffee/more.png": make_zip(g)}), "errors.zip.nested"),
    "encrypted entries": (lambda g: patch_flags(make_zip(g), 0x1), "errors.zip.encrypted"),
    "LZMA entry": (lambda g: _special(g, _info("coffee/x.png"), _tiny(3), zipfile.ZIP_LZMA), "errors.zip.method"),
    "text file": (lambda g: _with(g, **{"coffee/notes.txt": b"my pictures\n"}), "errors.zip.not_image"),
    "TIFF (not accepted)": (lambda g: _with(g, **{"coffee/x.tif": _tiff()}), "errors.zip.not_image"),
    "picture cut short": (lambda g: _with(g, **{"coffee/cut.png": encode(np.random.default_rng(0).integers(
        0, 255, (64, 64, 3), dtype=np.uint8))[:800]}), "errors.zip.image_broken"),
    "one class": (lambda g: make_zip({k: v for k, v in g.items() if k.startswith("coffee/")}),
                  "errors.zip.too_few_classes"),
    "no class folders": (lambda g: make_zip({}), "errors.zip.too_few_classes"),
    "empty class folder": (lambda g: make_zip(g, dirs=["empty"]), "errors.zip.class_empty"),
    "class with 3 pictures": (lambda g: _with(g, **{f"few/{i}.png": _tiny(i) for i in range(3)}),
                              "errors.zip.class_small"),
    "21 classes": (lambda g: make_zip({f"c{c:02d}/{i}.png": _tiny(c * 5 + i) for c in range(21) for i in range(5)}),
                   "errors.zip.too_many_classes"),
    "5,001 pictures": (lambda g: _many(limits.OWN_IMAGES_MAX + 1), "errors.zip.too_many_images"),
    "file outside the classes": (lambda g: _with(g, **{"readme.png": _tiny(9)}), "errors.zip.loose_file"),
    "class name of 41 characters": (lambda g: _with(g, **{f"{'x' * 41}/{i}.png": _tiny(i) for i in range(5)}),
                                    "errors.zip.class_name_long"),
    "class name with a line break": (lambda g: _with(g, **{f"a\nb/{i}.png": _tiny(i) for i in range(5)}),
                                     "errors.zip.class_name_odd"),
    "class name with a direction override": (lambda g: _with(g, **{f"gpj\u202e/{i}.png": _tiny(i) for i in range(5)}),
                                             "errors.zip.class_name_odd"),
    "entry name over 1,000 characters": (lambda g: _with(g, **{"coffee/" + "x" * 1000 + ".png": _tiny(1)}),
                                         "errors.zip.name_too_long"),
    "same picture twice": (lambda g: _with(g, **{"rocket/copy.png": g["coffee/000.png"]}), "errors.zip.duplicate"),
    "same name twice": (lambda g: _special(g, _info("coffee/000.png"), _tiny(7)), "errors.zip.duplicate_name"),
    "42 megapixels": (lambda g: _with(g, **{"coffee/big.png": encode(Image.new("L", (7000, 6000)))}),
                      "errors.zip.image_too_big"),
    "16-bit 16.4 megapixels": (lambda g: _with(g, **{"coffee/deep.png": encode(Image.new("I;16", (4100, 4000)))}),
                               "errors.zip.image_deep_too_big"),
    "header claims 10¹⁰ pixels": (lambda g: _with(g, **{"coffee/claim.png": _png_header_bomb()}),
                                  "errors.zip.image_too_big_nosize"),
}


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """An empty working folder and an empty temporary folder, for the reading; both must stay empty."""
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("TMPDIR", str(tmp))
    yield tmp_path
    assert list(work.iterdir()) == [] and list(tmp.iterdir()) == []
    assert not list(tmp_path.rglob("evil*"))


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_zip_refused_with_its_message(case, good, nowhere):
    build, key = CASES[case]
    blob = build(good)
    t0 = time.perf_counter()
    with pytest.raises(UserError) as exc:
        read_zip(blob, "colour32")
    took = time.perf_counter() - t0
    assert exc.value.key == key, (case, exc.value.key, str(exc.value))
    for lang in ("en", "zh"):  # a whole sentence in each language, every placeholder filled
        text = translate(key, lang, **exc.value.params)
        assert "{" not in text and len(text) > 5
    print(f"{case}: {key} in {took * 1000:.0f} ms")
    assert took < 20  # refused without decoding anything large (seconds only on a loaded machine)


def test_the_good_zip_behind_every_case_is_read(good, nowhere):
    """The cases spoil a zip that is fine: without the spoiling it is read."""
    ds = read_zip(make_zip(good), "grey28")
    assert ds.counts == (5, 5) and ds.class_names == ("coffee", "rocket")


def test_limits_on_the_inflated_total_and_decoded_pixels_hold_while_reading(good, monkeypatch, nowhere):
    """The total inflated bytes are counted while reading (not only as declared), and the decoded pixels of all
    pictures are checked from their headers before any is decoded (limits lowered to fit this small zip)."""
    blob = make_zip(good)
    total = sum(len(v) for v in good.values())
    monkeypatch.setattr(limits, "OWN_UNPACKED_BYTES", total - 1)
    with pytest.raises(UserError) as exc:
        read_zip(blob)
    assert exc.value.key == "errors.zip.unpacked_too_big"
    monkeypatch.setattr(limits, "OWN_UNPACKED_BYTES", total)
    read_zip(blob)
    monkeypatch.setattr(limits, "OWN_DECODE_PIXELS", 5_000)
    with pytest.raises(UserError) as exc:
        read_zip(blob)
    assert exc.value.key == "errors.zip.too_many_pixels"


def test_a_large_jpeg_counts_at_its_reduced_decode_size(monkeypatch, nowhere):
    """A 4000×3000 JPEG is decoded at 1/8 scale (500×375 = 187,500 pixels), so it counts as such."""
    big = encode(Image.new("RGB", (4000, 3000), (200, 30, 30)), "JPEG")
    files = {"a/big.jpg": big, **{f"a/{i}.png": _tiny(i) for i in range(4)}, **{f"b/{i}.png": _tiny(i + 50)
                                                                                for i in range(5)}}
    monkeypatch.setattr(limits, "OWN_DECODE_PIXELS", 187_500 + 9 * 36)
    ds = read_zip(make_zip(files), "colour32")
    assert ds.counts == (5, 5)
    monkeypatch.setattr(limits, "OWN_DECODE_PIXELS", 187_500 + 9 * 36 - 1)
    with pytest.raises(UserError) as exc:
        read_zip(make_zip(files), "colour32")
    assert exc.value.key == "errors.zip.too_many_pixels"


def test_directory_parsing_is_linear():
    """Refusing a zip at the most entries allowed + 1 costs about 6,000 × one entry (no quadratic step): twice the
    entries take at most about twice as long (generous: the machine is shared)."""
    small, large = _many(2_000, classes=20), _many(4_000, classes=20)

    def took(blob):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            with pytest.raises(UserError):
                read_zip(blob)  # 20 classes of tiny non-pictures: refused at the first picture's header
            best = min(best, time.perf_counter() - t0)
        return best

    assert took(large) < 4 * took(small) + 0.05


# ---------------------------------------------------------------- memory, measured in a fresh process
CHILD = r"""
import json, sys
sys.path.insert(0, {root!r})
from explainer.data.ownimages import read_zip


def status(field):  # kB, from the kernel's accounting of this process
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


read_zip(open({warm!r}, "rb").read())  # Pillow's, NumPy's and zipfile's first allocations are the idle server's
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current resident size
    fh.write("5")
before = status("VmRSS")
data = open({path!r}, "rb").read()  # the upload itself counts: the server holds it while reading it
try:
    ds = read_zip(data, {mode!r})
    outcome = "ok {{}} pictures".format(sum(ds.counts))
except Exception as exc:  # a refusal (UserError) is a fine outcome here; only memory is measured
    outcome = type(exc).__name__ + ":" + getattr(exc, "key", "")
print(json.dumps({{"growth_mb": (status("VmHWM") - before) / 1024, "outcome": outcome}}))
"""


def peak_growth(path, warm, mode="colour32") -> dict:
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = CHILD.format(root=str(ROOT), path=str(path), warm=str(warm), mode=mode)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _photos_zip(target: int) -> bytes:
    """Real photographs (crops of scikit-image's four colour photos, 200–300 pixels, enlarged to 1000×1000), stored,
    up to ``target`` bytes: every fourth an uncompressed 3 MB BMP, the others JPEGs (about 200 kB): a 50 MB upload
    of about 60 pictures, quick to make. (Measured too: 250 JPEGs of 200 kB, +100 MB; 1,530 of 32 kB, +104 MB.)"""
    from tests.ownzips import PHOTOS, crops

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        pools = {name: iter(crops(name, 60, seed=k, lo=200, hi=300)) for k, name in enumerate(PHOTOS)}
        i = 0
        while buf.tell() < target - 400_000:
            name = PHOTOS[i % len(PHOTOS)]
            big = Image.fromarray(next(pools[name])).resize((1000, 1000), Image.Resampling.BILINEAR)
            fmt = "BMP" if i % 4 == 0 and buf.tell() < target - 3_200_000 else "JPEG"
            z.writestr(f"{name}/{i:04d}.{fmt.lower()}", encode(big, fmt, **({"quality": 97} if fmt == "JPEG" else {})))
            i += 1
    return buf.getvalue()


def _heavy_zip() -> bytes:
    """The most expensive pictures each allowed, in one zip: 40-megapixel RGB and palette PNGs, 16-megapixel 16-bit
    and RGBA ones, and 12 MB BMPs of noise (large entries, kept between the passes)."""
    rng = np.random.default_rng(0)
    heavy = {
        "a/rgb.png": encode(Image.new("RGB", (6300, 6300), (1, 2, 3))),
        "a/palette.png": encode(Image.new("P", (6300, 6300), 3)),
        "a/deep.png": encode(Image.new("I;16", (4000, 4000), 30000)),
        "a/alpha.png": encode(Image.new("RGBA", (4000, 4000), (10, 20, 30, 128))),
        "a/noise.bmp": encode(rng.integers(0, 255, (2000, 2000, 3), dtype=np.uint8), "BMP"),
        "b/noise.bmp": encode(rng.integers(0, 255, (2000, 2000, 3), dtype=np.uint8), "BMP"),
        "b/rgb.png": encode(Image.new("RGB", (6300, 6300), (3, 2, 1))),
        **{f"b/{i}.png": _tiny(i) for i in range(3)},
    }
    return make_zip(heavy, zipfile.ZIP_STORED)


def test_memory_of_a_50_mb_zip_of_photos_and_of_the_heaviest_pictures(tmp_path, good):
    warm = tmp_path / "warm.zip"
    warm.write_bytes(make_zip(good))
    results = {}
    for name, blob in (("50 MB of photos", _photos_zip(limits.OWN_ZIP_BYTES)), ("heaviest pictures", _heavy_zip()),
                       ("header understates 100 MB", _lying_size())):
        path = tmp_path / "case.zip"
        path.write_bytes(blob)
        res = peak_growth(path, warm)
        results[name] = res
        print(f"{name}: {len(blob) / 2**20:.1f} MB zip → +{res['growth_mb']:.0f} MB peak ({res['outcome']})")
    assert results["50 MB of photos"]["outcome"].startswith("ok")
    assert results["heaviest pictures"]["outcome"].startswith("ok")
    assert results["header understates 100 MB"]["outcome"].endswith("errors.zip.entry_broken")
    assert all(r["growth_mb"] < MEMORY_LIMIT_MB for r in results.values()), results
