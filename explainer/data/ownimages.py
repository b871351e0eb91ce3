"""A learner's own pictures: a ``.zip`` whose top-level folders are the classes, read safely, in memory.

    >>> ds = read_zip(open("pets.zip", "rb").read(), "colour32")     # doctest: +SKIP
    >>> ds.class_names, ds.train_x.shape, ds.test_x.shape             # doctest: +SKIP
    (('cat', 'dog'), (80, 32, 32, 3), (20, 32, 32, 3))

The rules (every number is in ``explainer/limits.py``, every refusal a ``UserError`` with an ``errors.zip.*`` key):

- **Layout.** Each top-level folder is a class (2–20 classes, at least 5 pictures each, at most 5,000 pictures);
  pictures in deeper folders count for their top-level folder. A zip that holds one folder with the class folders
  inside (what zipping a folder gives) is read as if that folder were the top. A file outside any class folder,
  an empty class folder, one class only, a class name over ``OWN_CLASS_CHARS`` characters or with control
  characters is refused. Class order is the folders' names sorted; names are kept as written (Unicode NFC), and
  pages show them literally. The junk zip tools add (``__MACOSX/``, names starting with ``.``, ``Thumbs.db``,
  ``desktop.ini``) is skipped.
- **Never on disk.** Nothing is extracted: entries are read from the uploaded bytes. Absolute names (``/x``,
  ``C:x``, ``\\\\server``), ``..`` parts, NUL characters and symbolic links are refused, although they could do no
  harm here, because such a zip was not made by zipping a folder of pictures.
- **Bombs.** Before ``zipfile`` parses anything, the end record's entry count and directory size are bounded (so a
  50 MB file of empty entries can't make a million objects). Before anything is inflated, declared sizes are
  bounded (each entry, all together, and the ratio of an entry's inflated to compressed size) and entries must not
  overlap (the "overlapping files" bomb that makes a small zip hold the same data thousands of times). While
  reading, the bytes actually inflated are counted against the same bounds (a header that lies is caught). Only
  stored and deflated entries are read (what every zip tool writes; LZMA can ask for a huge dictionary); encrypted
  entries and zips inside the zip are refused.
- **Pictures.** PNG, JPEG, WebP, BMP and GIF, checked from their content (not their names): anything else is
  refused, naming the file. Every header is read first, and the pictures' sizes are checked (each as an upload,
  ``explainer.data.images``: deep modes get the lower pixel cap; all together ``OWN_DECODE_PIXELS``) before any is
  decoded. Decoding is ``explainer.data.images``'s: within the process-wide budget ``images.DECODES`` (one slot per
  picture), JPEGs at a reduced scale, large pictures reduced before NumPy sees them. **Converted, not refused:**
  16-bit (÷ 257), CMYK and other colour spaces (to RGB), palette (to RGB(A)), transparency (on white), animated
  GIF/PNG/WebP (the first frame), EXIF rotation applied; ``OwnDataset.converted`` counts each kind.
- **Duplicates.** Two files with the same content (SHA-256), in one class or two, are refused, naming both: a
  copy in the training and the test set would make the test score a lie.
- **Preparation**, as a drawn digit is prepared: ``"grey28"`` is ``explainer.data.draw.preprocess_drawing`` exactly
  (grey, a light background inverted, cropped to the ink, the longer side scaled to 20 pixels with the aspect
  kept, centred by its centre of mass in 28×28), so the Train page's drawing canvas feeds the model what it was
  trained on; ``"colour32"`` keeps the colours and the whole picture: the longer side scaled to 32 pixels
  (Lanczos, as the digit), the aspect kept, centred and padded with black to 32×32.
- **Split.** Of each class, ``OWN_TEST_SHARE`` (rounded, at least one) goes to the test set, chosen by a seeded
  generator; the rest is the training set, in a seeded random order.

Every step is linear in the input's size (one pass over the directory, two reads of each entry; entries up to
48 MB in all are kept between the passes, the rest inflated again). Peak memory, measured in a fresh process by
``tests/test_hostile_zips.py`` (the upload's own bytes included): a 50 MB zip of photographs +102 MB, the heaviest
pictures allowed (40-megapixel RGB and palette PNGs, 16-megapixel 16-bit and RGBA ones) +224 MB, a header that
understates 100 MB +1 MB; the bound is 400 MB.
"""
from __future__ import annotations

import hashlib
import io
import struct
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from explainer import limits
from explainer.data import images
from explainer.data.draw import preprocess_drawing
from explainer.errors import UserError

MODES = ("grey28", "colour32")
SIDE = {"grey28": 28, "colour32": 32}
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # Pillow's names of the formats read
_JUNK_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}
_ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".zst", ".jar")
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"7z\xbc\xaf", b"Rar!", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")  # text-direction controls
_READ_CHUNK = 256 * 1024
_KEEP_BYTES = 48 * 1024 * 1024  # entries kept between the two passes (the rest is inflated again)
_SHOWN = 120  # characters of a name quoted in a message


@dataclass(frozen=True, eq=False)
class OwnDataset:
    """A prepared set of a learner's pictures (all arrays read-only).

    ``train_x``/``test_x``: uint8, ``(N, 28, 28)`` (grey28) or ``(N, 32, 32, 3)`` (colour32), 0–255;
    ``train_y``/``test_y``: int64 class indices into ``class_names``. ``counts``: pictures per class (both sets).
    ``sha256``: of the uploaded zip's bytes (what a kept run records instead of the pictures). ``samples``: per
    class, up to ``OWN_SAMPLES_PER_CLASS`` prepared training pictures for the sample grid. ``converted``: how many
    pictures were 16-bit, CMYK, palette, with transparency, animated (first frame used) or rotated by EXIF."""

    mode: str
    class_names: tuple[str, ...]
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    counts: tuple[int, ...]
    sha256: str
    samples: tuple[np.ndarray, ...]
    seed: int = 0
    converted: dict = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return 3 if self.mode == "colour32" else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """One picture as the network sees it: (channels, height, width)."""
        return (self.channels, SIDE[self.mode], SIDE[self.mode])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def nbytes(self) -> int:
        return int(self.train_x.nbytes + self.train_y.nbytes + self.test_x.nbytes + self.test_y.nbytes)


def _shown(name: str) -> str:
    return name if len(name) <= _SHOWN else name[:_SHOWN] + "…"


# ---------------------------------------------------------------- the archive's directory
def _end_record(data: bytes) -> tuple[int, int]:
    """``(entries, directory bytes)`` from the zip's end record (zip64 too), read without ``zipfile``."""
    start = max(0, len(data) - 22 - 0xFFFF)
    i = data.rfind(b"PK\x05\x06", start)
    if i < 0 or len(data) - i < 22:
        raise UserError("errors.zip.not_zip")
    _, _, _, n_disk, n_total, size_cd, offset_cd, _ = struct.unpack("<4s4H2LH", data[i:i + 22])
    if 0xFFFF in (n_disk, n_total) or 0xFFFFFFFF in (size_cd, offset_cd):
        loc = i - 20
        if loc < 56 or data[loc:loc + 4] != b"PK\x06\x07":
            raise UserError("errors.zip.not_zip")
        j = loc - 56
        if data[j:j + 4] != b"PK\x06\x06":
            raise UserError("errors.zip.not_zip")
        _, _, _, _, _, _, n_disk, n_total, size_cd, offset_cd = struct.unpack("<4sQ2H2L4Q", data[j:j + 56])
    return max(n_disk, n_total), size_cd


def _path(info: zipfile.ZipInfo) -> str:
    """The entry's name as its maker wrote it: UTF-8 where the zip tool didn't set the UTF-8 flag but wrote UTF-8
    anyway (macOS, Info-ZIP), else zipfile's reading; backslashes (some Windows tools) as slashes; Unicode NFC."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def _unsafe(path: str) -> bool:
    parts = path.split("/")
    return (path.startswith("/") or (len(path) > 1 and path[1] == ":") or "\0" in path
            or any(p == ".." for p in parts))


def _junk(parts: list[str]) -> bool:
    return any(p.startswith(".") or p.lower() in _JUNK_NAMES for p in parts if p)


@dataclass
class _Entry:
    info: zipfile.ZipInfo
    path: str
    cls: str


def _entries(zf: zipfile.ZipFile) -> tuple[list[_Entry], list[str]]:
    """The pictures' entries (not yet read) and every class folder's name, after the directory's checks."""
    infos = zf.infolist()
    if len(infos) > limits.OWN_ZIP_ENTRIES:
        raise UserError("errors.zip.too_many_entries", n=len(infos), max=limits.OWN_ZIP_ENTRIES)
    files, folders, seen, declared = [], set(), set(), 0
    for info in infos:
        path = _path(info)
        if len(path) > limits.OWN_NAME_CHARS:
            raise UserError("errors.zip.name_too_long", name=_shown(path), max=limits.OWN_NAME_CHARS)
        if _unsafe(path):
            raise UserError("errors.zip.unsafe_name", name=_shown(path))
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UserError("errors.zip.link", name=_shown(path))
        if path in seen:
            raise UserError("errors.zip.duplicate_name", name=_shown(path))
        seen.add(path)
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts or _junk(parts):
            continue
        if path.endswith("/"):  # a folder
            folders.add(tuple(parts))
            continue
        if info.flag_bits & 0x1:
            raise UserError("errors.zip.encrypted", name=_shown(path))
        if parts[-1].lower().endswith(_ARCHIVE_SUFFIXES):
            raise UserError("errors.zip.nested", name=_shown(path))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UserError("errors.zip.method", name=_shown(path), method=info.compress_type)
        if info.file_size > limits.OWN_ENTRY_BYTES:
            raise UserError("errors.zip.entry_too_big", name=_shown(path), mb=limits.mb(limits.OWN_ENTRY_BYTES))
        if info.file_size > limits.OWN_RATIO_FLOOR and \
                info.file_size > limits.OWN_ENTRY_RATIO * max(1, info.compress_size):
            raise UserError("errors.zip.ratio", name=_shown(path), ratio=info.file_size // max(1, info.compress_size),
                            max=limits.OWN_ENTRY_RATIO)
        declared += info.file_size
        if declared > limits.OWN_UNPACKED_BYTES:
            raise UserError("errors.zip.unpacked_too_big", mb=limits.mb(limits.OWN_UNPACKED_BYTES))
        files.append((info, path, parts))
    _no_overlap(infos)
    # one folder holding the class folders (zipping a folder gives that): read it as the top
    tops = {parts[0] for _, _, parts in files} | {f[0] for f in folders}
    while len(tops) == 1 and files and all(len(parts) >= 3 for _, _, parts in files):
        files = [(info, path, parts[1:]) for info, path, parts in files]
        folders = {f[1:] for f in folders if len(f) > 1}
        tops = {parts[0] for _, _, parts in files} | {f[0] for f in folders}
    entries = []
    for info, path, parts in files:
        if len(parts) < 2:
            raise UserError("errors.zip.loose_file", name=_shown(path))
        entries.append(_Entry(info, path, parts[0]))
    return entries, sorted(tops)


def _no_overlap(infos: list[zipfile.ZipInfo]) -> None:
    """Entries' data may not overlap: each local header (30 bytes at least) and its compressed data end before the
    next entry starts (a zip bomb makes many directory entries point at one compressed stream)."""
    spans = sorted(((i.header_offset, i.header_offset + 30 + i.compress_size), n) for n, i in enumerate(infos))
    for ((_, end), n), ((start, _), _) in zip(spans, spans[1:]):
        info = infos[n]
        if end > start:
            raise UserError("errors.zip.overlap", name=_shown(_path(info)))


def _check_classes(entries: list[_Entry], classes: list[str]) -> None:
    for name in classes:
        if len(name) > limits.OWN_CLASS_CHARS:
            raise UserError("errors.zip.class_name_long", name=_shown(name), max=limits.OWN_CLASS_CHARS)
        if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI for c in name):
            raise UserError("errors.zip.class_name_odd", name=ascii(name)[1:-1][:_SHOWN])
    if len(classes) < limits.OWN_CLASSES_MIN:
        raise UserError("errors.zip.too_few_classes", n=len(classes), min=limits.OWN_CLASSES_MIN)
    if len(classes) > limits.OWN_CLASSES_MAX:
        raise UserError("errors.zip.too_many_classes", n=len(classes), max=limits.OWN_CLASSES_MAX)
    if len(entries) > limits.OWN_IMAGES_MAX:
        raise UserError("errors.zip.too_many_images", n=len(entries), max=limits.OWN_IMAGES_MAX)
    per = {c: 0 for c in classes}
    for e in entries:
        per[e.cls] += 1
    for c in classes:
        if per[c] == 0:
            raise UserError("errors.zip.class_empty", name=_shown(c))
        if per[c] < limits.OWN_PER_CLASS_MIN:
            raise UserError("errors.zip.class_small", name=_shown(c), n=per[c], min=limits.OWN_PER_CLASS_MIN)


# ---------------------------------------------------------------- reading entries and their headers
def _read(zf: zipfile.ZipFile, e: _Entry) -> bytes:
    """The entry's bytes, counting what is actually inflated (never more than declared, nor than one entry may)."""
    cap = min(e.info.file_size, limits.OWN_ENTRY_BYTES)
    chunks, got = [], 0
    try:
        with zf.open(e.info) as fh:
            while True:
                chunk = fh.read(_READ_CHUNK)
                if not chunk:
                    break
                got += len(chunk)
                if got > cap:  # zipfile stops at the declared size itself; this count doesn't rely on that
                    raise UserError("errors.zip.entry_broken", name=_shown(e.path), detail=f"{got} > {cap}")
                chunks.append(chunk)
    except UserError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError,
            struct.error, zipfile.LargeZipFile) as exc:
        raise UserError("errors.zip.entry_broken", name=_shown(e.path), detail=str(exc)[:_SHOWN]) from None
    if got != e.info.file_size:
        raise UserError("errors.zip.entry_broken", name=_shown(e.path), detail=f"{got} ≠ {e.info.file_size}")
    return b"".join(chunks)


def _decoded_pixels(raw: bytes, e: _Entry) -> int:
    """Check a picture's header (format, size, mode) without decoding it; the pixels its decode will hold."""
    if raw.startswith(_ARCHIVE_MAGIC):
        raise UserError("errors.zip.nested", name=_shown(e.path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=FORMATS) as im:
                w, h = im.size
                if w * h > images.MAX_PIXELS:
                    raise UserError("errors.zip.image_too_big", name=_shown(e.path), w=w, h=h,
                                    mp=limits.mp(images.MAX_PIXELS))
                if w * h > images.pixel_limit(im.mode):
                    raise UserError("errors.zip.image_deep_too_big", name=_shown(e.path), w=w, h=h, mode=im.mode,
                                    mp=limits.mp(images.pixel_limit(im.mode)))
                if w < 1 or h < 1:
                    raise UserError("errors.zip.not_image", name=_shown(e.path))
                if im.format == "JPEG" and max(w, h) > limits.OWN_DECODE_SIDE:
                    im.draft(im.mode, (limits.OWN_DECODE_SIDE, limits.OWN_DECODE_SIDE))  # no decode: sets the scale
                    w, h = im.size
                return w * h
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError("errors.zip.image_too_big_nosize", name=_shown(e.path), mp=limits.mp(images.MAX_PIXELS)) \
            from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error, TypeError):
        raise UserError("errors.zip.not_image", name=_shown(e.path)) from None


# ---------------------------------------------------------------- preparing a picture
def prepare(arr: np.ndarray, mode: str) -> np.ndarray:
    """A decoded picture (uint8 grey (H, W) or RGB (H, W, 3)) → the dataset's uint8 picture: ``"grey28"`` as a drawn
    digit (``preprocess_drawing``), ``"colour32"`` the whole picture, aspect kept, centred on black 32×32."""
    if mode == "grey28":
        return np.rint(preprocess_drawing(arr) * 255.0).astype(np.uint8)
    side = SIDE[mode]
    rgb = np.repeat(arr[..., None], 3, axis=2) if arr.ndim == 2 else arr[..., :3]
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((nw, nh), Image.Resampling.LANCZOS))
    out = np.zeros((side, side, 3), dtype=np.uint8)
    top, left = (side - nh) // 2, (side - nw) // 2
    out[top:top + nh, left:left + nw] = small
    return out


def _kinds(info: dict) -> list[str]:
    mode, kinds = info.get("mode", ""), []
    if mode.startswith("I;16"):
        kinds.append("sixteen_bit")
    if mode == "CMYK":
        kinds.append("cmyk")
    if mode in ("P", "PA"):
        kinds.append("palette")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        kinds.append("alpha")
    if info.get("frames", 1) > 1:
        kinds.append("animated")
    if info.get("rotated"):
        kinds.append("rotated")
    return kinds


def _decode(raw: bytes, e: _Entry, wait: float) -> tuple[np.ndarray, dict]:
    try:
        with images.DECODES.slot(wait):
            return images._decode_upload(raw, limits.OWN_DECODE_SIDE)
    except UserError as exc:
        if exc.key == "errors.upload_busy":
            raise
        raise UserError("errors.zip.image_broken", name=_shown(e.path),
                        detail=str(exc.params.get("detail", exc.key))[:_SHOWN]) from None


# ---------------------------------------------------------------- the split
def split(labels: np.ndarray, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, stratified: of each class ``round(OWN_TEST_SHARE × n)`` (at least 1) test indices; the rest train,
    in a seeded random order. Returns (train indices, test indices)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        k = max(1, int(round(limits.OWN_TEST_SHARE * idx.size)))
        test.append(idx[:k])
        train.append(idx[k:])
    tr, te = np.concatenate(train), np.concatenate(test)
    return tr[rng.permutation(tr.size)], np.sort(te)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


# ---------------------------------------------------------------- the whole reader
def read_zip(data: bytes, mode: str = "colour32", seed: int = 0,
             wait: float = limits.DECODE_WAIT_SECONDS) -> OwnDataset:
    """The uploaded zip's bytes → an ``OwnDataset`` (see the module's docstring for every rule), or ``UserError``.

    ``mode``: ``"grey28"`` (as MNIST) or ``"colour32"`` (3 channels); ``seed``: the train/test split's; ``wait``:
    how long one picture waits for a decode slot (``images.DECODES``) before ``errors.upload_busy``."""
    data = _checked_upload(data, mode, seed)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error, zipfile.LargeZipFile):
        raise UserError("errors.zip.not_zip") from None
    with zf:
        entries, classes = _entries(zf)
        _check_classes(entries, classes)
        entries.sort(key=lambda e: (e.cls, e.path))
        kept = _read_and_check(zf, entries)
        # pass 2: decode and prepare, one picture at a time
        side = SIDE[mode]
        shape = (len(entries), side, side) if mode == "grey28" else (len(entries), side, side, 3)
        x = np.zeros(shape, dtype=np.uint8)
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[e.cls] for e in entries], dtype=np.int64)
        converted: dict[str, int] = {}
        for i, e in enumerate(entries):
            raw, kept[i] = kept[i], None
            arr, info = _decode(raw if raw is not None else _read(zf, e), e, wait)
            x[i] = prepare(arr, mode)
            for kind in _kinds(info):
                converted[kind] = converted.get(kind, 0) + 1
    tr, te = split(y, len(classes), seed)
    train_y = y[tr]
    samples = tuple(_frozen(x[tr[train_y == c][:limits.OWN_SAMPLES_PER_CLASS]]) for c in range(len(classes)))
    return OwnDataset(mode=mode, class_names=tuple(classes), train_x=_frozen(x[tr]), train_y=_frozen(train_y),
                      test_x=_frozen(x[te]), test_y=_frozen(y[te]),
                      counts=tuple(int(v) for v in np.bincount(y, minlength=len(classes))),
                      sha256=hashlib.sha256(data).hexdigest(), samples=samples, seed=int(seed), converted=converted)


def _checked_upload(data, mode: str, seed) -> bytes:
    """``read_zip``'s checks before zipfile parses anything: the mode, the seed, the bytes, and the archive's entry
    count and directory size from its end record. Returns the bytes."""
    if mode not in MODES:
        raise UserError("errors.zip.mode", value=str(mode)[:limits.SHOWN_VALUE_CHARS], choices=" / ".join(MODES))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed <= limits.SEED_MAX:
        raise UserError("errors.seed_range", value=str(seed)[:limits.SHOWN_VALUE_CHARS], max=limits.SEED_MAX)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UserError("errors.zip.not_zip")
    data = bytes(data)
    if not data:
        raise UserError("errors.upload_empty")
    if len(data) > limits.OWN_ZIP_BYTES:
        raise UserError("errors.zip.too_big", mb=limits.mb(limits.OWN_ZIP_BYTES))
    n, directory = _end_record(data)
    if n > limits.OWN_ZIP_ENTRIES:
        raise UserError("errors.zip.too_many_entries", n=n, max=limits.OWN_ZIP_ENTRIES)
    if directory > limits.OWN_DIRECTORY_BYTES:
        raise UserError("errors.zip.directory_too_big", kb=directory // 1024, max=limits.OWN_DIRECTORY_BYTES // 1024)
    return data


def _read_and_check(zf: zipfile.ZipFile, entries: list) -> list[bytes | None]:
    """Pass 1: every entry read (bounded), hashed, its header checked; no picture decoded yet. Returns the bytes
    read, kept while they fit in ``_KEEP_BYTES`` (None for the rest: pass 2 reads those again)."""
    hashes, pixels, inflated, kept = {}, 0, 0, []
    for e in entries:
        raw = _read(zf, e)
        inflated += len(raw)
        kept.append(raw if inflated <= _KEEP_BYTES else None)  # the rest is read again in pass 2
        if inflated > limits.OWN_UNPACKED_BYTES:
            raise UserError("errors.zip.unpacked_too_big", mb=limits.mb(limits.OWN_UNPACKED_BYTES))
        digest = hashlib.sha256(raw).digest()
        if digest in hashes:
            raise UserError("errors.zip.duplicate", name=_shown(e.path), other=_shown(hashes[digest]))
        hashes[digest] = e.path
        pixels += _decoded_pixels(raw, e)
        if pixels > limits.OWN_DECODE_PIXELS:
            raise UserError("errors.zip.too_many_pixels", mp=limits.mp(limits.OWN_DECODE_PIXELS))
    return kept


# ---------------------------------------------------------------- a folder instead of a zip (the command line)
def _folder_zip_bytes(name: str, size: int) -> int:
    """What one stored entry takes in the zip ``read_folder`` builds: local header, data, central record."""
    n = len(name.encode("utf-8"))
    return 30 + n + size + 46 + n


def _folder_files(root: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    """``([(zip name, real path, size)], [folder names])`` under ``root``, walked without reading a file and without
    following links; every bound checked as it goes (entries, bytes as the zip would hold them), so a huge tree stops
    early. A link whose target lies outside ``root`` is refused; a link to a file inside is read as that file; a link
    to a folder inside is not followed (its pictures are there already). Junk (``.*``, ``__MACOSX``, ``Thumbs.db``)
    is skipped, as in a zip."""
    import os
    import stat

    real_root = os.path.realpath(root)
    files, folders, total, count = [], [], 22, 0
    stack = [("", root)]
    while stack:
        prefix, path = stack.pop()
        try:
            with os.scandir(path) as it:
                for d in it:
                    name = prefix + d.name
                    if _junk([d.name]):
                        continue
                    count += 1
                    if count > limits.OWN_ZIP_ENTRIES:
                        raise UserError("errors.zip.folder_too_many", max=limits.OWN_ZIP_ENTRIES)
                    try:
                        name.encode("utf-8")
                    except UnicodeEncodeError:
                        raise UserError("errors.zip.folder_name", name=_shown(ascii(name)[1:-1])) from None
                    st = d.stat(follow_symlinks=False)
                    if stat.S_ISLNK(st.st_mode):
                        target = os.path.realpath(d.path)
                        if os.path.commonpath([real_root, target]) != real_root:
                            raise UserError("errors.zip.folder_link", name=_shown(name))
                        try:
                            st = os.stat(target)
                        except OSError as exc:
                            raise UserError("errors.zip.folder_unreadable", name=_shown(name),
                                            detail=str(exc)[:_SHOWN]) from None
                        if stat.S_ISDIR(st.st_mode):
                            continue  # not followed: its pictures are inside the folder already
                    if stat.S_ISDIR(st.st_mode):
                        folders.append(name + "/")
                        total += _folder_zip_bytes(name + "/", 0)
                        stack.append((name + "/", d.path))
                    elif stat.S_ISREG(st.st_mode):
                        files.append((name, d.path, st.st_size))
                        total += _folder_zip_bytes(name, st.st_size)
                    else:
                        raise UserError("errors.zip.folder_special", name=_shown(name))
                    if total > limits.OWN_ZIP_BYTES:
                        raise UserError("errors.zip.folder_too_big", mb=limits.mb(limits.OWN_ZIP_BYTES))
        except OSError as exc:
            raise UserError("errors.zip.folder_unreadable", name=_shown(prefix or "."), detail=str(exc)[:_SHOWN]) \
                from None
    return sorted(files), sorted(folders)


def folder_zip(root: str) -> bytes:
    """A folder whose top-level subfolders are the classes → the zip of it (stored, fixed dates, sorted names: the
    same folder always gives the same bytes, hence the same hash), after ``_folder_files``'s checks. Each file is read
    once, never more than the size it had when the folder was walked."""
    import os

    files, folders = _folder_files(root)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in folders:
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), b"")
        for name, path, size in files:
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
                with os.fdopen(fd, "rb") as fh:
                    raw = fh.read(size + 1)
            except OSError as exc:
                raise UserError("errors.zip.folder_unreadable", name=_shown(name), detail=str(exc)[:_SHOWN]) from None
            if len(raw) != size:
                raise UserError("errors.zip.folder_changed", name=_shown(name))
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), raw)
    return buf.getvalue()


def read_folder(root: str, mode: str = "colour32", seed: int = 0,
                wait: float = limits.DECODE_WAIT_SECONDS) -> OwnDataset:
    """A folder whose top-level subfolders are the classes → an ``OwnDataset``, by the same rules and limits as a zip
    (it is read as the zip ``folder_zip`` makes of it; ``sha256`` is that zip's)."""
    if mode not in MODES:  # before walking anything
        raise UserError("errors.zip.mode", value=str(mode)[:limits.SHOWN_VALUE_CHARS], choices=" / ".join(MODES))
    return read_zip(folder_zip(root), mode, seed, wait)
