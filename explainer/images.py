"""Images to learn on: synthetic samples, real photographs shipped by scikit-image, and uploads.

Every image is a NumPy ``uint8`` array: ``(H, W)`` grey or ``(H, W, 3)`` RGB, 0–255.

    >>> from explainer.images import sample
    >>> sample("step_edge")[0]
    array([60, 60, 60,  0,  0,  0], dtype=uint8)
"""
from __future__ import annotations

import functools
import io
import struct
import warnings

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from explainer.errors import UserError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20 MB file
MAX_PIXELS = 40_000_000  # refuse larger images before decoding them (decompression bombs)
MAX_SIDE = 1024  # larger images are downscaled so their longest side is this

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


def _to_uint8(im: Image.Image) -> np.ndarray:
    """Any PIL mode → uint8 grey (H, W) or RGB (H, W, 3); alpha is composited on white."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 257.0
        else:  # 32-bit integer or float: stretch what is there to 0–255
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
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


def decode_upload(data: bytes, max_side: int = MAX_SIDE) -> tuple[np.ndarray, dict]:
    """Decode an uploaded file to ``(image, info)``; ``info`` says what was done to it.

    Accepts PNG, JPEG, WebP, BMP, GIF (first frame), TIFF and anything else Pillow reads. Refuses,
    with a ``UserError`` a learner understands: empty or oversized files, non-images, truncated
    files, decompression bombs. 16-bit, CMYK, palette and alpha images are converted; images larger
    than ``max_side`` are downscaled.
    """
    if not data:
        raise UserError("errors.upload_empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError("errors.upload_too_big", mb=MAX_UPLOAD_BYTES // (1024 * 1024))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise UserError("errors.upload_bomb", w=w, h=h, mp=MAX_PIXELS // 1_000_000)
            fmt = im.format or "?"
            frames = getattr(im, "n_frames", 1)
            im.seek(0)
            im.load()
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError("errors.upload_bomb_nosize", mp=MAX_PIXELS // 1_000_000) from None
    except UnidentifiedImageError:
        raise UserError("errors.upload_not_image") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise UserError("errors.upload_broken", detail=str(exc)[:120]) from None
    if w < 1 or h < 1:
        raise UserError("errors.upload_not_image")
    original_mode = im.mode
    arr = _to_uint8(im)
    info = {"format": fmt, "mode": original_mode, "size": (w, h), "frames": frames, "downscaled": False}
    if max(arr.shape[:2]) > max_side:
        scale = max_side / max(arr.shape[:2])
        new = (max(1, round(arr.shape[1] * scale)), max(1, round(arr.shape[0] * scale)))
        arr = np.asarray(Image.fromarray(arr).resize(new, Image.Resampling.LANCZOS))
        info["downscaled"] = True
    info["shape"] = arr.shape
    return arr, info

