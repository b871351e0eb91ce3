"""Zips of real pictures for the own-images tests: scikit-image's bundled photographs cut into classes.

Each class is one photograph; its pictures are different crops of it (positions and sizes from a seeded
generator, some flipped), saved in turn as PNG, JPEG, WebP, BMP and GIF, so a class is real image content
and no two files are the same."""
from __future__ import annotations

import io
import struct
import warnings
import zipfile

import numpy as np
from PIL import Image

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
EXT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp", "GIF": "gif"}


def photo(name: str) -> np.ndarray:
    import skimage.data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)


def encode(arr_or_im, fmt: str = "PNG", **kw) -> bytes:
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    buf = io.BytesIO()
    if fmt == "JPEG" and im.mode not in ("L", "RGB", "CMYK"):
        im = im.convert("RGB")
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def crops(name: str, n: int, seed: int = 0, lo: int = 60, hi: int = 200) -> list[np.ndarray]:
    """``n`` different crops (sizes ``lo``–``hi``, not square) of the photograph ``name``, every other one flipped."""
    img = photo(name)
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    out, seen = [], set()
    while len(out) < n:
        i = len(out)
        ch, cw = int(rng.integers(lo, max(lo + 1, min(hi, h)))), int(rng.integers(lo, max(lo + 1, min(hi, w))))
        y, x = int(rng.integers(0, h - ch)), int(rng.integers(0, w - cw))
        if (y, x, ch, cw) in seen:
            continue
        seen.add((y, x, ch, cw))
        c = np.ascontiguousarray(img[y:y + ch, x:x + cw][:, ::-1] if i % 2 else img[y:y + ch, x:x + cw])
        if c.tobytes() in seen or np.ptp(c) < 40:  # the same content twice, or a flat patch (sky, shadow)
            continue
        seen.add(c.tobytes())
        out.append(c)
    return out


def picture_files(per_class: int = 12, photos=PHOTOS, seed: int = 0, fmts=FORMATS, prefix: str = "",
                  **crop_kw) -> dict[str, bytes]:
    """``{"<photo>/<i>.<ext>": bytes}``: ``per_class`` crops of each photograph, formats in turn."""
    files = {}
    for k, name in enumerate(photos):
        for i, c in enumerate(crops(name, per_class, seed + k, **crop_kw)):
            fmt = fmts[i % len(fmts)]
            files[f"{prefix}{name}/{i:03d}.{EXT[fmt]}"] = encode(c, fmt)
    return files


def make_zip(files: dict, method=zipfile.ZIP_DEFLATED, dirs=()) -> bytes:
    """A zip of ``files`` (name → bytes, or a ``ZipInfo`` → bytes for special entries) and folder entries ``dirs``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for d in dirs:
            z.writestr(d if d.endswith("/") else d + "/", b"")
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def central_records(blob: bytes) -> list[int]:
    """Offsets of the central directory's records."""
    out, i = [], blob.find(b"PK\x01\x02")
    while i >= 0:
        out.append(i)
        i = blob.find(b"PK\x01\x02", i + 46)
    return out


def patch_flags(blob: bytes, bits: int) -> bytes:
    """Set general-purpose flag ``bits`` on every entry, in its local header and its central record."""
    b = bytearray(blob)
    i = b.find(b"PK\x03\x04")
    while i >= 0:
        struct.pack_into("<H", b, i + 6, struct.unpack_from("<H", b, i + 6)[0] | bits)
        i = b.find(b"PK\x03\x04", i + 30)
    for i in central_records(blob):
        struct.pack_into("<H", b, i + 8, struct.unpack_from("<H", b, i + 8)[0] | bits)
    return bytes(b)


def patch_declared_sizes(blob: bytes, size: int) -> bytes:
    """Every central record declares ``size`` inflated bytes (its data unchanged)."""
    b = bytearray(blob)
    for i in central_records(blob):
        struct.pack_into("<L", b, i + 24, size)
    return bytes(b)
