"""MNIST loader: real files, small IDX files written here, truncated/wrong-magic files, offline."""
from __future__ import annotations

import gzip
import hashlib
import struct

import numpy as np
import pytest

from explainer.data import mnist


def _write_idx(path, arr: np.ndarray, gz: bool = True) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def _tiny_mnist(folder, n_train=12, n_test=5, gz=True):
    rng = np.random.default_rng(1)
    _write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28)), gz)
    _write_idx(folder / "train-labels-idx1-ubyte", rng.integers(0, 10, n_train), gz)
    _write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28)), gz)
    _write_idx(folder / "t10k-labels-idx1-ubyte", rng.integers(0, 10, n_test), gz)


def test_real_mnist(mnist_dir):
    x_train, y_train, x_test, y_test = mnist.load_mnist(mnist_dir, download=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert list(y_train[:8]) == [5, 0, 4, 1, 9, 2, 1, 3]
    assert sorted(np.unique(y_test)) == list(range(10))
    # the exact test images: README's MD5 of the uncompressed IDX file
    raw = bytes([0, 0, 8, 3]) + struct.pack(">3I", 10000, 28, 28) + x_test.tobytes()
    assert hashlib.md5(raw).hexdigest() == "2646ac647ad5339dbf082846283269ea"


@pytest.mark.parametrize("gz", [True, False])
def test_small_idx_files(tmp_path, gz):
    _tiny_mnist(tmp_path, gz=gz)
    x_train, y_train, x_test, y_test = mnist.load_mnist(tmp_path, download=False)
    assert x_train.shape == (12, 28, 28) and y_test.shape == (5,)


def test_truncated_file_named(tmp_path):
    _tiny_mnist(tmp_path)
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    data = gzip.decompress(p.read_bytes())[:-100]
    p.write_bytes(gzip.compress(data))
    with pytest.raises(mnist.MnistCorrupt) as exc:
        mnist.load_mnist(tmp_path, download=False)
    assert "t10k-images" in str(exc.value) and "truncated" in str(exc.value)


def test_wrong_magic_named(tmp_path):
    _tiny_mnist(tmp_path, gz=False)
    p = tmp_path / "train-labels-idx1-ubyte"
    p.write_bytes(b"\x00\x00\x0d\x01" + p.read_bytes()[4:])
    with pytest.raises(mnist.MnistCorrupt) as exc:
        mnist.load_mnist(tmp_path, download=False)
    assert "train-labels" in str(exc.value) and "magic" in str(exc.value)


def test_not_gzip_named(tmp_path):
    _tiny_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(mnist.MnistCorrupt):
        mnist.load_mnist(tmp_path, download=False)


def test_missing_without_download_says_where(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(mnist.MnistUnavailable) as exc:
        mnist.load_mnist(tmp_path / "nowhere", download=False)
    assert "MNIST_DIR" in str(exc.value) and "t10k-images-idx3-ubyte.gz" in str(exc.value)


def test_download_offline_leaves_nothing(tmp_path, monkeypatch):
    """No network (an unreachable mirror): a clear error and no half-written files."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "MIRRORS", ("http://127.0.0.1:9/",))
    monkeypatch.setattr(mnist.download, "__defaults__", (None, None, ("http://127.0.0.1:9/",), 2.0))
    with pytest.raises(mnist.MnistUnavailable) as exc:
        mnist.load_mnist(tmp_path / "nowhere", download=True)
    assert "MNIST_DIR" in str(exc.value)
    cache = tmp_path / "cache" / "convolution-explainer" / "mnist"
    assert not any(cache.glob("*")) if cache.exists() else True


def test_download_checks_md5(tmp_path, monkeypatch):
    """A mirror serving the wrong bytes: rejected, nothing kept; the right bytes: kept."""
    import http.server
    import threading

    good = {name: gzip.compress(name.encode()) for name in mnist.MD5}
    served = dict(good)
    served["t10k-labels-idx1-ubyte.gz"] = b"tampered"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = served[self.path.lstrip("/")]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        monkeypatch.setattr(mnist, "MD5", {n: hashlib.md5(b).hexdigest() for n, b in good.items()})
        with pytest.raises(mnist.MnistUnavailable):
            mnist.download(tmp_path, mirrors=(url,))
        assert not (tmp_path / "t10k-labels-idx1-ubyte.gz").exists()
        assert not list(tmp_path.glob("*.part"))
        served["t10k-labels-idx1-ubyte.gz"] = good["t10k-labels-idx1-ubyte.gz"]
        seen = []
        mnist.download(tmp_path, mirrors=(url,), progress=lambda n, d, t: seen.append(n))
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(mnist.MD5)
        assert seen
    finally:
        server.shutdown()
