"""Images to learn on: synthetic samples, real photographs shipped by scikit-image, and uploads.

Every image is a NumPy ``uint8`` array: ``(H, W)`` grey or ``(H, W, 3)`` RGB, 0–255.

    >>> from explainer.data.images import sample
    >>> sample("step_edge")[0]
    array([60, 60, 60,  0,  0,  0], dtype=uint8)
"""
from __future__ import annotations

import contextlib
import functools
import io
import struct
import threading
import time
import warnings

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from explainer import limits
from explainer.errors import UserError

MAX_UPLOAD_BYTES = limits.UPLOAD_BYTES  # the file
MAX_PIXELS = limits.UPLOAD_PIXELS  # refuse larger images before decoding them (decompression bombs)
MAX_PIXELS_DEEP = limits.UPLOAD_PIXELS_DEEP  # the same for modes that cost more than 3 bytes a pixel
MAX_SIDE = limits.UPLOAD_SIDE  # larger images are downscaled so their longest side is this
# Modes that cost at most 3 bytes a pixel once decoded; every other mode (16-bit, 32-bit, float, alpha,
# CMYK, ...) gets the lower pixel cap, so that no decode holds more than about 160 MB.
_SHALLOW_MODES = {"1", "L", "P", "RGB", "YCbCr", "LAB", "HSV"}
# EXIF orientation → the transpose that shows the picture upright (as PIL.ImageOps.exif_transpose).
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
                7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}

# name → (kind, maker). Real photographs come with scikit-image (offline).
SAMPLES = (
    "step_edge", "checkerboard", "shapes", "text", "camera", "coins", "astronaut", "coffee",
)
PHOTOS = {"camera", "coins", "astronaut", "coffee"}


def _step_edge() -> np.ndarray:
    """The tutorials' 6×6 image: 60 on the left half, 0 on the right."""
    img = np.zeros((6, 6), dtype=np.uint8)
    img[:, :3] = 60
    return img


def _checkerboard(n: int = 64, square: int = 8) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    return (((yy // square + xx // square) % 2) * 255).astype(np.uint8)


def _shapes(n: int = 128) -> np.ndarray:
    im = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(im)
    d.rectangle([12, 12, 56, 56], fill=255)
    d.ellipse([70, 14, 116, 60], fill=180)
    d.polygon([(20, 116), (64, 70), (108, 116)], fill=120)
    d.line([(70, 90), (120, 90)], fill=255, width=3)
    return np.asarray(im)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def _text(word: str = "CNN", n: int = 128) -> np.ndarray:
    im = Image.new("L", (n, n // 2), 0)
    d = ImageDraw.Draw(im)
    font = _font(n // 3)
    box = d.textbbox((0, 0), word, font=font)
    x = (im.width - (box[2] - box[0])) // 2 - box[0]
    y = (im.height - (box[3] - box[1])) // 2 - box[1]
    d.text((x, y), word, fill=255, font=font)
    return np.asarray(im)


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)


@functools.lru_cache(maxsize=None)
def _sample(name: str) -> np.ndarray:
    makers = {"step_edge": _step_edge, "checkerboard": _checkerboard, "shapes": _shapes, "text": _text}
    if name in makers:
        arr = makers[name]()
    elif name in PHOTOS:
        arr = _skimage(name)
    else:
        raise UserError("errors.not_one_of", param="sample", choices=" / ".join(SAMPLES), value=name)
    arr.setflags(write=False)
    return arr


def sample(name: str) -> np.ndarray:
    """A sample image by name (see ``SAMPLES``); read-only, cached."""
    return _sample(name)


LUMA = (0.299, 0.587, 0.114)  # ITU-R 601: how bright red, green and blue look to the eye


def to_grey(img: np.ndarray) -> np.ndarray:
    """RGB → grey with the ITU-R 601 luma weights (0.299 R + 0.587 G + 0.114 B), as uint8."""
    img = np.asarray(img)
    if img.ndim == 2:
        return img
    grey = img[..., :3].astype(np.float64) @ np.array(LUMA)
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def colourful_patch(img: np.ndarray, size: int = 8) -> tuple[int, int]:
    """(top, left) of a ``size``×``size`` patch with much colour and contrast: a good first example."""
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[:2]
    if h <= size or w <= size:
        return 0, 0
    c = img if img.ndim == 3 else img[..., None]
    step = max(1, size // 2)
    win = np.lib.stride_tricks.sliding_window_view(c, (size, size), axis=(0, 1))[::step, ::step]
    score = win.std(axis=(-2, -1)).sum(axis=-1)  # contrast in every channel
    if c.shape[2] == 3:
        mean = win.mean(axis=(-2, -1))
        score = score + np.ptp(mean, axis=-1)  # and colour (channels differ)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(i * step), int(j * step)


def channels(img: np.ndarray) -> np.ndarray:
    """(C, H, W): a grey image as one channel, RGB as its three channels R, G, B."""
    img = np.asarray(img)
    return img[None] if img.ndim == 2 else np.moveaxis(img[..., :3], -1, 0)


def draw_digit(digit: int, size: int = 28) -> np.ndarray:
    """A digit the app draws itself (used where MNIST isn't available): white on black, MNIST-like."""
    im = Image.new("L", (size * 4, size * 4), 0)
    d = ImageDraw.Draw(im)
    font = _font(size * 3)
    text = str(int(digit) % 10)
    box = d.textbbox((0, 0), text, font=font)
    d.text(((im.width - box[2] - box[0]) // 2, (im.height - box[3] - box[1]) // 2), text, fill=255, font=font)
    arr = np.asarray(im.resize((size, size), Image.Resampling.LANCZOS))
    return arr


def _stretch(arr: np.ndarray) -> np.ndarray:
    """Float or 32-bit values → 0–255 over the range of the finite values; +inf → 255, −inf and NaN → 0."""
    finite = np.isfinite(arr)
    out = np.zeros(arr.shape, dtype=np.float64)
    if finite.any():
        lo, hi = float(arr[finite].min()), float(arr[finite].max())
        if hi > lo:
            out[finite] = (arr[finite] - lo) * (255.0 / (hi - lo))
    out[np.isposinf(arr)] = 255.0
    return out


def _to_uint8(im: Image.Image, sixteen_bit: bool = False) -> np.ndarray:
    """Any PIL mode → uint8 grey (H, W) or RGB (H, W, 3); alpha is composited on white.

    ``sixteen_bit``: the image is a 16-bit one already widened to mode ``"I"`` (divide by 257)."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16") or sixteen_bit:
            arr = arr / 257.0
        else:  # 32-bit integer or float: stretch what is there to 0–255
            arr = _stretch(arr)
        return np.clip(np.rint(np.nan_to_num(arr)), 0, 255).astype(np.uint8)
    if mode == "P":
        im = im.convert("RGBA")
    elif mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im).convert("RGB")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode not in ("L", "RGB"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
    arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
        arr = arr[..., 0]
    return arr


def pixel_limit(mode: str) -> int:
    """The most pixels an upload of this PIL mode may have (deep modes cost more memory per pixel)."""
    return MAX_PIXELS if mode in _SHALLOW_MODES else MAX_PIXELS_DEEP


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 — a broken EXIF block only means "no rotation"
        return 1


def _reduce(im: Image.Image, max_side: int) -> tuple[Image.Image, bool]:
    """Shrink a loaded image by a whole factor with Pillow's box ``reduce`` (cheap, no float copy of the
    full-size picture), to between ``max_side`` and 2 × ``max_side``; 16-bit images are widened to ``"I"``
    first (``reduce`` doesn't take them), palette and 1-bit images converted. Returns (image, 16-bit?)."""
    sixteen = im.mode.startswith("I;16")
    factor = max(im.size) // max_side
    if factor < 2:
        return im, sixteen
    if sixteen:
        im = im.convert("I")
    elif im.mode in ("P", "PA"):
        im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode not in ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "YCbCr"):
        im = im.convert("RGB")
    return im.reduce(factor), sixteen


class DecodeSlots:
    """A process-wide budget for decodes: at most ``size`` at once (a semaphore); ``running`` and ``peak`` say how
    many are decoding now and at most so far, ``waited`` the longest wait for a slot (seconds)."""

    def __init__(self, size: int):
        self.size = int(size)
        self._sem = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self.running = self.peak = 0
        self.waited = 0.0

    @contextlib.contextmanager
    def slot(self, wait: float):
        t0 = time.monotonic()
        if not self._sem.acquire(timeout=max(0.0, float(wait))):
            raise UserError("errors.upload_busy", seconds=f"{wait:g}")
        try:
            with self._lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
                self.waited = max(self.waited, time.monotonic() - t0)
            yield
        finally:
            with self._lock:
                self.running -= 1
            self._sem.release()


DECODES = DecodeSlots(limits.DECODES_AT_ONCE)


def decode_upload(data: bytes, max_side: int = MAX_SIDE, wait: float = limits.DECODE_WAIT_SECONDS
                  ) -> tuple[np.ndarray, dict]:
    """Decode an uploaded file to ``(image, info)`` within the process-wide budget ``DECODES``: it waits up to
    ``wait`` seconds for one of ``limits.DECODES_AT_ONCE`` slots, else ``UserError("errors.upload_busy")``.
    See ``_decode_upload``."""
    if not data:
        raise UserError("errors.upload_empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError("errors.upload_too_big", mb=limits.mb(MAX_UPLOAD_BYTES))
    with DECODES.slot(wait):
        return _decode_upload(data, max_side)


def _decode_upload(data: bytes, max_side: int = MAX_SIDE) -> tuple[np.ndarray, dict]:
    """Decode an uploaded file to ``(image, info)``; ``info`` says what was done to it.

    Accepts PNG, JPEG, WebP, BMP, GIF (first frame), TIFF and anything else Pillow reads. Refuses,
    with a ``UserError`` a learner understands: empty or oversized files, non-images, truncated
    files, decompression bombs, images with more pixels than their mode allows (``pixel_limit``).
    Decoding stays within a memory budget: JPEGs are decoded at a reduced scale (``draft``), other
    large images are shrunk with Pillow's ``reduce`` before any conversion to NumPy. 16-bit, CMYK,
    palette and alpha images are converted; the EXIF orientation is applied; images larger than
    ``max_side`` are downscaled.
    """
    if not data:
        raise UserError("errors.upload_empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError("errors.upload_too_big", mb=limits.mb(MAX_UPLOAD_BYTES))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise UserError("errors.upload_bomb", w=w, h=h, mp=limits.mp(MAX_PIXELS))
            if w * h > pixel_limit(im.mode):
                raise UserError("errors.upload_deep_too_big", w=w, h=h, mode=im.mode,
                                mp=limits.mp(pixel_limit(im.mode)))
            fmt = im.format or "?"
            frames = getattr(im, "n_frames", 1)
            im.seek(0)
            original_mode = im.mode
            orientation = _orientation(im)
            if fmt == "JPEG" and max(w, h) > max_side:
                im.draft(im.mode, (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale
            im.load()
            im, sixteen = _reduce(im, max_side)
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError("errors.upload_bomb_nosize", mp=limits.mp(MAX_PIXELS)) from None
    except UnidentifiedImageError:
        raise UserError("errors.upload_not_image") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as exc:
        raise UserError("errors.upload_broken", detail=str(exc)[:120]) from None
    if w < 1 or h < 1:
        raise UserError("errors.upload_not_image")
    if orientation in _ORIENTATION:
        im = im.transpose(_ORIENTATION[orientation])
    arr = _to_uint8(im, sixteen)
    del im
    info = {"format": fmt, "mode": original_mode, "size": (w, h), "frames": frames,
            "downscaled": max(arr.shape[:2]) < max(w, h), "rotated": orientation in _ORIENTATION}
    if max(arr.shape[:2]) > max_side:
        scale = max_side / max(arr.shape[:2])
        new = (max(1, round(arr.shape[1] * scale)), max(1, round(arr.shape[0] * scale)))
        arr = np.asarray(Image.fromarray(arr).resize(new, Image.Resampling.LANCZOS))
        info["downscaled"] = True
    info["shape"] = arr.shape
    return arr, info
