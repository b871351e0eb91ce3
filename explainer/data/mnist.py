"""MNIST from the four standard IDX files, found locally or downloaded with checksums.

    >>> from explainer.data.mnist import load_mnist
    >>> x_train, y_train, x_test, y_test = load_mnist()      # doctest: +SKIP

Where the files are looked for, in order: ``root``; ``$MNIST_DIR``; the per-user cache
(``$XDG_CACHE_HOME/convolution-explainer/mnist`` or ``~/.cache/...``). Each of the four files may
be ``.gz`` or uncompressed. Files found locally are read without the download checksums (a local
copy may be a rebuilt one); downloaded files are checked against the published MD5 of the ``.gz``
and written to the cache only once complete and verified.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import struct
import tempfile
import zlib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import numpy as np

from explainer import limits
from explainer.errors import UserError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# MD5 of the .gz files as the public mirrors serve them (the same sums torchvision checks).
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_EXPECTED = {"train_images": (60000, 28, 28), "train_labels": (60000,),
             "test_images": (10000, 28, 28), "test_labels": (10000,)}


class MnistUnavailable(UserError):
    """No copy of MNIST could be found or downloaded."""


class MnistCorrupt(UserError):
    """A file exists but is not a valid IDX file."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "convolution-explainer" / "mnist"


def search_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    dirs = []
    if root:
        dirs.append(Path(root))
    if os.environ.get("MNIST_DIR"):
        dirs.append(Path(os.environ["MNIST_DIR"]))
    dirs.append(cache_dir())
    return dirs


def read_idx(path: str | os.PathLike, max_values: int | None = None) -> np.ndarray:
    """Read one IDX file (``.gz`` or not) into a NumPy array; ``MnistCorrupt`` names the file if it is bad.

    The header's shape is the read limit: a header promising more than ``max_values`` values (default
    ``limits.MNIST_FILE_BYTES``) is refused before the body is read, and never more than the promised
    number of bytes (+1, to notice trailing data) is read or inflated — a small ``.gz`` that inflates to
    gigabytes costs no more than the header allows."""
    path = Path(path)
    limit = limits.MNIST_FILE_BYTES if max_values is None else int(max_values)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            head = fh.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
                raise MnistCorrupt("errors.mnist_magic", file=str(path))
            ndim = head[3]
            dims = fh.read(4 * ndim) if ndim in (1, 3) else b""
            if ndim not in (1, 3) or len(dims) < 4 * ndim:
                raise MnistCorrupt("errors.mnist_dims", file=str(path), ndim=ndim)
            shape = struct.unpack(f">{ndim}I", dims)
            expected = int(np.prod(shape, dtype=np.int64))
            if expected > limit:
                raise MnistCorrupt("errors.mnist_too_large", file=str(path), n=expected, max=limit)
            data = fh.read(expected + 1)
    except MnistCorrupt:
        raise
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise MnistCorrupt("errors.mnist_corrupt", file=str(path), detail=str(exc) or type(exc).__name__) from None
    if len(data) != expected:
        raise MnistCorrupt("errors.mnist_size", file=str(path), shape="×".join(map(str, shape)), n=expected,
                           got=f"> {expected}" if len(data) > expected else len(data))
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _find(dirs: list[Path], stem: str) -> Path | None:
    for d in dirs:
        for name in (stem + ".gz", stem):
            p = d / name
            if p.is_file():
                return p
    return None


def download(dest: Path | None = None, progress: Callable[[str, int, int], None] | None = None,
             mirrors: tuple[str, ...] = MIRRORS, timeout: float = 20.0) -> Path:
    """Download the four ``.gz`` files into ``dest`` (the cache by default), verifying their MD5.

    Each file is written to a temporary file and renamed only after its checksum matches, so an
    interrupted or corrupt download leaves nothing half-written behind. ``progress(name, done, total)``
    is called as bytes arrive. Raises ``MnistUnavailable`` when no mirror answers.
    """
    return fetch_verified(Path(dest) if dest else cache_dir(), MD5, mirrors, progress, timeout,
                          unusable=lambda d: MnistUnavailable("errors.cache_unusable", dir=str(d)),
                          unavailable=lambda e: MnistUnavailable("errors.mnist_unavailable",
                                                                 dirs=", ".join(map(str, search_dirs())), detail=str(e)))


def fetch_verified(dest: Path, sums: dict[str, str], mirrors: tuple[str, ...], progress, timeout: float, *,
                   unusable: Callable[[Path], Exception], unavailable: Callable[[Exception | None], Exception]) -> Path:
    """Each file of ``sums`` (name → MD5) into ``dest`` from the first mirror that serves it, renamed into place
    only once its MD5 matches (files already there and right are kept); ``unusable(dest)`` / ``unavailable(last
    error)`` give the exception for a cache folder that can't be written / a file no mirror served (MNIST's and
    Fashion-MNIST's downloads)."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        if not os.access(dest, os.W_OK):
            raise PermissionError(str(dest))
    except OSError:
        raise unusable(dest) from None
    for name, md5 in sums.items():
        target = dest / name
        if target.is_file() and hashlib.md5(target.read_bytes()).hexdigest() == md5:
            continue
        last_error = None
        for mirror in mirrors:
            try:
                _fetch(mirror + name, target, md5, progress, timeout)
                break
            except (OSError, urllib.error.URLError, ValueError) as exc:
                last_error = exc
        else:
            raise unavailable(last_error)
    return dest


_download_files = download


def _fetch(url: str, target: Path, md5: str, progress, timeout: float) -> None:
    digest = hashlib.md5()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(target.name, done, total)
        if digest.hexdigest() != md5:
            raise ValueError(f"checksum mismatch for {url}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_mnist(root: str | os.PathLike | None = None, download: bool = True,
               progress: Callable[[str, int, int], None] | None = None):
    """``(x_train, y_train, x_test, y_test)``: uint8 ``(N, 28, 28)`` images and int64 labels.

    Looks in ``root``, ``$MNIST_DIR`` and the per-user cache; if the files are missing and
    ``download`` is true, fetches them from the public mirrors (checksums verified). Raises
    ``MnistUnavailable`` with a message saying where to put the files when there is no copy.
    Results are cached in memory per directory.
    """
    dirs = search_dirs(root)
    found = {k: _find(dirs, stem) for k, stem in FILES.items()}
    if not all(found.values()):
        if not download:
            raise MnistUnavailable("errors.mnist_unavailable", dirs=", ".join(map(str, dirs)),
                                   detail="download disabled")
        _download_files(progress=progress)
        found = {k: _find([cache_dir()], stem) for k, stem in FILES.items()}
    return _load(tuple(str(found[k]) for k in FILES))


@functools.lru_cache(maxsize=2)
def _load(paths: tuple[str, ...]):
    arrays = {}
    for (key, expected), path in zip(_EXPECTED.items(), paths):
        arr = read_idx(path)
        if arr.shape[1:] != expected[1:]:
            raise MnistCorrupt("errors.mnist_corrupt", file=path, detail=f"unexpected shape {arr.shape}")
        arrays[key] = arr
    for split in ("train", "test"):
        if len(arrays[f"{split}_images"]) != len(arrays[f"{split}_labels"]):
            raise MnistCorrupt("errors.mnist_corrupt", file=paths[0 if split == "train" else 2],
                               detail="images and labels differ in count")
        if len(arrays[f"{split}_images"]) == 0:
            raise MnistCorrupt("errors.mnist_empty", file=paths[0 if split == "train" else 2])
        labels = arrays[f"{split}_labels"]
        if labels.max() > 9:  # uint8: never below 0
            raise MnistCorrupt("errors.mnist_labels", file=paths[1 if split == "train" else 3],
                               lo=int(labels.min()), hi=int(labels.max()))
    for a in arrays.values():
        a.setflags(write=False)
    return (arrays["train_images"], arrays["train_labels"].astype(np.int64),
            arrays["test_images"], arrays["test_labels"].astype(np.int64))


def available(root: str | os.PathLike | None = None) -> bool:
    """Whether a local copy exists (no download attempted)."""
    return all(_find(search_dirs(root), stem) for stem in FILES.values())
