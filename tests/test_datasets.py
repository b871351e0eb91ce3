"""The data-set registry (explainer/data/datasets.py): class names in both languages, shapes, the real Fashion-MNIST
files (Debian's dataset-fashion-mnist or $FASHION_MNIST_DIR), and the message when there is no copy."""
from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

from explainer.data import datasets
from explainer.errors import UserError, message
from explainer.i18n import translate


@pytest.fixture(scope="module")
def fashion():
    ds = datasets.get("fashion")
    assert ds.available(), ("Fashion-MNIST is missing: apt-get install dataset-fashion-mnist, or set "
                            "FASHION_MNIST_DIR to a folder with its four IDX files")
    return ds


def test_registry_entries():
    assert datasets.KEYS[0] == datasets.DEFAULT == "mnist" and "fashion" in datasets.KEYS
    for key in datasets.KEYS:
        ds = datasets.get(key)
        assert ds.key == key and ds.shape == (1, 28, 28) and ds.num_classes == 10
        assert len(ds.mean) == len(ds.std) == ds.channels == 1
        for lang in ("en", "zh"):
            assert ds.title(lang) != ds.title_key and translate(ds.source_key, lang) != ds.source_key
    assert datasets.get("mnist").class_names("zh") == [str(d) for d in range(10)]
    with pytest.raises(UserError) as exc:
        datasets.get("cifar")
    assert "cifar" in str(exc.value) and "fashion" in str(exc.value)


def test_fashion_class_names_both_languages():
    ds = datasets.get("fashion")
    en, zh = ds.class_names("en"), ds.class_names("zh")
    assert en == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]
    assert zh == ["T恤/上衣", "裤子", "套头衫", "连衣裙", "外套", "凉鞋", "衬衫", "运动鞋", "包", "短靴"]


def test_real_fashion_files(fashion):
    x_train, y_train = fashion.load("train")
    x_test, y_test = fashion.load("test")
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.dtype == np.int64 and np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert list(y_train[:6]) == [9, 0, 0, 3, 0, 2]  # ankle boot, T-shirt, T-shirt, dress, T-shirt, pullover
    # not MNIST's test images (their uncompressed IDX file's MD5, as tests/test_mnist.py checks)
    raw = bytes([0, 0, 8, 3]) + struct.pack(">3I", 10000, 28, 28) + x_test.tobytes()
    assert hashlib.md5(raw).hexdigest() != "2646ac647ad5339dbf082846283269ea"
    assert abs(x_train.mean() / 255 - datasets.FASHION_MEAN) < 1e-3
    assert abs(x_train.std() / 255 - datasets.FASHION_STD) < 1e-3
    with pytest.raises(UserError):
        fashion.load("validation")


def test_missing_fashion_says_how_to_get_it(tmp_path, monkeypatch):
    """No copy anywhere and no network (a mirror on loopback that refuses): a UserError naming the Debian
    package and the variable, in both languages; nothing is left in the cache."""
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "FASHION_SYSTEM_DIR", tmp_path / "no-system-copy")
    monkeypatch.setattr(datasets, "FASHION_MIRRORS", ("http://127.0.0.1:9/",))
    assert not datasets.available("fashion")
    for download in (False, True):
        with pytest.raises(datasets.FashionUnavailable) as exc:
            datasets.load_fashion(download=download)
        for lang in ("en", "zh"):
            text = message(exc.value.key, exc.value.params, lang)
            assert "apt-get install dataset-fashion-mnist" in text and "FASHION_MNIST_DIR" in text
    assert not any((tmp_path / "cache").rglob("*.gz"))


def test_fashion_dir_variable_first(tmp_path, monkeypatch, fashion):
    """$FASHION_MNIST_DIR is read before the system copy (here: a copy of two of its files is not enough)."""
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    assert datasets.fashion_dirs()[0] == tmp_path
    assert datasets.fashion_dirs()[1] == datasets.FASHION_SYSTEM_DIR


def test_from_arrays_colour():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    y = np.arange(20) % 2
    ds = datasets.from_arrays("own", "datasets.own", "datasets.own_source", ["cats", "dogs"], x, y, x[:4], y[:4])
    assert ds.shape == (3, 32, 32) and ds.num_classes == 2 and ds.class_names("zh") == ["cats", "dogs"]
    assert np.allclose(ds.mean, (x / 255).reshape(-1, 3).mean(0))
    xt, yt = ds.load("test")
    assert xt.shape == (4, 32, 32, 3) and yt.dtype == np.int64
