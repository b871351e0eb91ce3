"""Hostile input, class by class (issue 11): text parsers stay linear and capped, crafted files are
refused with a message, every reproduction of a traceback now gives a clear message or a result, and
user text is never rendered as markup. Memory limits are in ``test_hostile_memory.py``, the URL fuzzer
in ``test_hostile_urls.py``."""
from __future__ import annotations

import gzip
import io
import json
import struct
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explainer import limits
from explainer.data import images, mnist
from explainer.learning import optim
from explainer.errors import UserError
from explainer.maths.grids import _rows, parse_grid
from explainer.maths.kernels import divisor_for, parse_kernel

from explainer.learning.train import CHECKPOINT_FORMAT, TrainConfig, load_checkpoint, save_checkpoint
from explainer.learning.models import build_model
from tests.conftest import ROOT, app_test

PARSER_LIMIT_S = 0.25

# Inputs that made (or would make) a backtracking parser quadratic, 100k characters each.
NASTY = {
    "bracket_spaces": "]" + " " * 100_000,
    "spaces_bracket": " " * 100_000 + "[",
    "brackets": "][" * 50_000,
    "open_brackets": "[" * 100_000,
    "commas": "]" + " ," * 50_000,
    "separators": ";" * 100_000,
    "fraction_digits": "1" * 99_999 + "/",
    "slashes": "1/" * 50_000,
    "minus": "-" * 100_000,
    "full_width": "；，" * 50_000,
    "numbers": "1 " * 50_000,
}


def _elapsed(fn, *args) -> float:
    """Best of three wall-clock times (the CI machine is shared; a quadratic parser takes seconds here)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        try:
            fn(*args)
        except UserError:
            pass
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------- 1. text parsers: linear and capped
@pytest.mark.parametrize("name", sorted(NASTY))
def test_parser_is_linear_on_100k_characters(name):
    """The parsing itself (without the length cap) takes < 0.25 s on 100k hostile characters, even with a
    grid size limit far above the real one (so every value is read)."""
    assert _elapsed(_rows, NASTY[name]) < PARSER_LIMIT_S
    assert _elapsed(_rows, NASTY[name], 10**6) < PARSER_LIMIT_S


@pytest.mark.parametrize("parse", [parse_kernel, lambda text: parse_grid(text, 7)])
def test_long_text_refused_before_parsing(parse):
    for text in NASTY.values():
        t0 = time.perf_counter()
        with pytest.raises(UserError) as exc:
            parse(text)
        assert time.perf_counter() - t0 < PARSER_LIMIT_S
        assert exc.value.key == "errors.text_too_long"
        assert exc.value.params == {"n": len(text), "max": limits.KERNEL_TEXT_CHARS}


def test_brackets_still_read_as_rows():
    assert parse_kernel("[[1, 0], [0, 1]]").tolist() == [[1, 0], [0, 1]]
    assert parse_kernel("［［1，2］，［3，4］］").tolist() == [[1, 2], [3, 4]]
    assert parse_kernel("[1 2 3]").tolist() == [[1, 2, 3]]
    assert parse_kernel("1/9 1/9; 1/9 1/9").shape == (2, 2)


def test_url_values_refused_before_parsing():
    from ui.state import Param

    params = (Param("i", "int", 1), Param("f", "float", 1.0), Param("s", "text", ""),
              Param("c", "choice", "a", options=["a", "b"]), Param("m", "multi", [], options=["a"]),
              Param("r", "int_range", (0, 1)))
    for param in params:
        t0 = time.perf_counter()
        with pytest.raises(ValueError):
            param.parse("1" * 100_000)
        assert time.perf_counter() - t0 < PARSER_LIMIT_S
    with pytest.raises(ValueError):
        Param("i", "int", 0).parse(str(2**70))  # beyond what a browser's number input holds exactly
    with pytest.raises(ValueError):
        Param("m", "multi", [], options=["a", "b", "c"], max_selections=2).parse("a,b,c")


@pytest.mark.parametrize("page, key", [("kernels", "kn_custom"), ("stride", "sp_kernel")])
def test_text_boxes_have_max_chars(page, key):
    params = {"kn_kernel": "custom"} if page == "kernels" else {}
    at = app_test(page)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    box = at.text_area(key=key)
    assert box.proto.max_chars == limits.KERNEL_TEXT_CHARS
    assert str(limits.KERNEL_TEXT_CHARS) in box.help  # the limit is shown where it applies


# ---------------------------------------------------------------- 3. / 15. uploads
def _png(arr, mode=None, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format=save.pop("format", "PNG"), **save)
    return buf.getvalue()


def test_deep_images_have_a_lower_pixel_cap():
    im = Image.new("I;16", (4100, 4100))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    with pytest.raises(UserError) as exc:
        images.decode_upload(buf.getvalue())
    assert exc.value.key == "errors.upload_deep_too_big"
    assert exc.value.params["mp"] == limits.mp(limits.UPLOAD_PIXELS_DEEP)
    rgba = Image.new("RGBA", (4100, 4100))
    buf = io.BytesIO()
    rgba.save(buf, format="PNG")
    with pytest.raises(UserError):
        images.decode_upload(buf.getvalue())


def test_large_images_are_reduced_before_conversion():
    """A 16-bit image under the cap: reduced in Pillow, grey levels kept (65535 → 255)."""
    arr = np.full((3000, 2000), 65535, dtype=np.uint16)
    arr[:1500] = 0
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    out, info = images.decode_upload(buf.getvalue())
    assert info["downscaled"] and max(out.shape) == images.MAX_SIDE
    assert out[0, 0] == 0 and out[-1, -1] == 255


def test_exif_orientation_applied():
    arr = np.zeros((40, 100, 3), dtype=np.uint8)  # landscape as stored …
    arr[:, :10] = 255  # … with a white stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    out, info = images.decode_upload(buf.getvalue())
    assert out.shape[:2] == (100, 40) and info["rotated"]  # shown upright: portrait
    assert out[:10].mean() > 200 and out[-10:].mean() < 50  # the stripe is now at the top


def test_float_tiff_with_inf_stretches_finite_values():
    arr = np.array([[0.0, 1.0], [2.0, np.inf]], dtype=np.float32).repeat(4, 0).repeat(4, 1)
    arr[0, 0] = -np.inf
    out, _ = images.decode_upload(_png(arr, format="TIFF"))
    assert out.max() == 255 and out[0, 0] == 0  # +inf white, −inf black
    assert out[1, 0] == 0 and out[0, 4] == 128 and out[4, 0] == 255  # 0, 1, 2 → 0, 128, 255 (not all black)


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (10000, 1), (1, 10000)])
def test_images_page_with_tiny_uploads(size):
    """Item 6: crop sliders used to raise StreamlitInvalidMinMaxError for a side ≤ 8 px."""
    from ui.images import PickedImage

    arr, _ = images.decode_upload(_png(np.full(size[::-1], 200, dtype=np.uint8)))
    at = app_test("images", _im_uploaded=PickedImage(arr, "tiny.png", False))
    at.query_params["im_src"] = "upload"
    at.run()
    assert not at.exception
    at = app_test("images", _im_uploaded=PickedImage(np.stack([arr] * 3, -1), "tiny.png", True))
    at.query_params["im_src"] = "upload"
    at.run()
    assert not at.exception


# ---------------------------------------------------------------- 4. / 9. / 15. checkpoints
def _checkpoint(state=None, config=None, fmt=CHECKPOINT_FORMAT) -> bytes:
    model = build_model("fast")
    buf = io.BytesIO()
    torch.save({"format": fmt, "config": json.dumps(TrainConfig().to_dict()) if config is None else config,
                "state_dict": model.state_dict() if state is None else state}, buf)
    return buf.getvalue()


def _deflated(blob: bytes) -> bytes:
    """The same archive with its entries deflated (how a small file can hold a huge tensor)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for e in zin.infolist():
            zout.writestr(e.filename, zin.read(e.filename))
    return out.getvalue()


def test_compressed_checkpoint_refused_before_loading():
    with pytest.raises(UserError) as exc:
        load_checkpoint(_deflated(_checkpoint()))
    assert exc.value.key == "errors.checkpoint_packed"


def test_oversized_and_crowded_checkpoints_refused():
    with pytest.raises(UserError) as exc:
        load_checkpoint(b"PK" + b"\0" * limits.CHECKPOINT_BYTES)
    assert exc.value.key == "errors.checkpoint_too_big"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(limits.CHECKPOINT_ENTRIES + 1):
            z.writestr(f"archive/data/{i}", b"")
    with pytest.raises(UserError) as exc:
        load_checkpoint(out.getvalue())
    assert exc.value.key == "errors.checkpoint_archive"


@pytest.mark.parametrize("config", ["[]", "null", "x", '"fast"', "1", "[" * 100_000 + "]" * 100_000, None])
def test_checkpoint_config_must_be_an_object(config):
    blob = _checkpoint(config=config if config is not None else 7)
    with pytest.raises(UserError) as exc:
        load_checkpoint(blob)
    assert exc.value.key in ("errors.checkpoint_config", "errors.checkpoint_too_big")


def test_checkpoint_shapes_checked_and_nonfinite_refused():
    state = build_model("fast").state_dict()
    name = next(k for k, v in state.items() if v.is_floating_point() and v.dim() > 1)
    bad = dict(state)
    bad[name] = torch.zeros(3, 3)
    with pytest.raises(UserError) as exc:
        load_checkpoint(_checkpoint(bad))
    assert exc.value.key == "errors.checkpoint_mismatch" and name in exc.value.params["detail"]
    for value in (float("nan"), float("inf")):
        bad = dict(state)
        bad[name] = state[name].clone()
        bad[name].view(-1)[0] = value
        with pytest.raises(UserError) as exc:
            load_checkpoint(_checkpoint(bad))
        assert exc.value.key == "errors.checkpoint_nonfinite" and exc.value.params["name"] == name
    model, _ = load_checkpoint(save_checkpoint(build_model("fast"), TrainConfig()))  # a good one still loads
    assert all(torch.isfinite(p).all() for p in model.parameters())


# ---------------------------------------------------------------- 5. / 11. MNIST files
def _idx(path: Path, arr: np.ndarray, shape=None, extra: bytes = b""):
    shape = arr.shape if shape is None else shape
    head = bytes([0, 0, 8, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    with gzip.open(path, "wb") as fh:
        fh.write(head + arr.astype(np.uint8).tobytes() + extra)


def test_idx_reader_reads_no_more_than_the_header_promises(tmp_path):
    p = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(p, "wb", compresslevel=1) as fh:  # the header promises 10 labels, the body inflates to 64 MB
        fh.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 10))
        chunk = b"\0" * (1 << 20)
        for _ in range(64):
            fh.write(chunk)
    t0 = time.perf_counter()
    with pytest.raises(UserError) as exc:
        mnist.read_idx(p)
    assert time.perf_counter() - t0 < 1.0 and exc.value.key == "errors.mnist_size"
    huge = tmp_path / "train-images-idx3-ubyte.gz"
    _idx(huge, np.zeros(0), shape=(4_000_000_000 // 784, 28, 28))
    with pytest.raises(UserError) as exc:
        mnist.read_idx(huge)
    assert exc.value.key == "errors.mnist_too_large"


def _fake_mnist(d: Path, n_test: int = 0, label: int = 3):
    d.mkdir(exist_ok=True)
    _idx(d / "train-images-idx3-ubyte.gz", np.zeros((20, 28, 28)))
    _idx(d / "train-labels-idx1-ubyte.gz", np.full(20, label))
    _idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((n_test, 28, 28)))
    _idx(d / "t10k-labels-idx1-ubyte.gz", np.full(n_test, 3))
    return d


def test_mnist_empty_test_set_and_bad_labels(tmp_path):
    with pytest.raises(UserError) as exc:
        mnist.load_mnist(_fake_mnist(tmp_path / "empty"), download=False)
    assert exc.value.key == "errors.mnist_empty"
    with pytest.raises(UserError) as exc:
        mnist.load_mnist(_fake_mnist(tmp_path / "labels", n_test=5, label=12), download=False)
    assert exc.value.key == "errors.mnist_labels" and exc.value.params["hi"] == 12


@pytest.mark.parametrize("page", ["images", "kernels"])
def test_pages_with_an_empty_mnist_test_set(page, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(_fake_mnist(tmp_path / "m")))
    at = app_test(page)
    at.query_params["kn_src" if page == "kernels" else "im_digit"] = "mnist" if page == "kernels" else "5"
    at.run()
    assert not at.exception


def test_unwritable_cache_folder_is_a_message(tmp_path, monkeypatch):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(UserError) as exc:
        mnist.load_mnist(root=tmp_path / "nothing-here")
    assert exc.value.key == "errors.cache_unusable"


def _cli(*args, env_extra=None, timeout=120):
    import os

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "explainer.learning.train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, key", [
    (["--device", "evil"], "Unknown device"),
    (["--device", "cuda:99"], "isn't available"),
    (["--seed", str(2**70)], "out of range"),
    (["--save", "/nonexistent/x.pt"], "Can't write the weights"),
])
def test_cli_refuses_before_training(args, key):
    r = _cli(*args, "--limit", "100")
    assert r.returncode == 2 and key in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "step" not in r.stdout  # nothing was trained


def test_cli_without_mnist_and_unwritable_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = _cli("--limit", "100", env_extra={"XDG_CACHE_HOME": str(blocker), "MNIST_DIR": ""})
    assert r.returncode == 2 and "Traceback" not in r.stderr and str(blocker) in r.stderr, r.stderr


def test_cli_with_empty_test_set(tmp_path):
    r = _cli("--limit", "10", "--mnist", str(_fake_mnist(tmp_path / "m")))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no images" in r.stderr, r.stderr


# ---------------------------------------------------------------- 7. / 8. numbers out of range
def test_optimizer_start_far_away():
    surf = optim.surface("rosenbrock")
    with pytest.raises(UserError) as exc:
        optim.race(surf, [("adam", {})], (1e7, 0.0), 10)
    assert exc.value.key == "errors.start_range"
    nan_path = np.full((5, 2), np.nan)
    assert optim.summarise(surf, nan_path)["diverged"]  # no IndexError on a path with no position
    at = app_test("optimizers")
    at.query_params["op_x"] = "1e7"
    at.run()
    assert not at.exception and at.toast  # refused with a notice, the default start used


def test_tiny_divisor():
    with pytest.raises(UserError) as exc:
        divisor_for(np.ones((3, 3)), "number", 1e-306)
    assert exc.value.key == "errors.divisor_range"
    from explainer.figures.kernels import histogram_figure

    histogram_figure(np.array([[np.inf, -np.inf], [np.nan, 1.0]]), title="t", x_title="x", y_title="y")
    at = app_test("kernels")
    for k, v in dict(kn_kernel="custom", kn_div="number", kn_divnum="1e-306").items():
        at.query_params[k] = v
    at.run()
    assert not at.exception and any("1e-306" in _unescape(e.value) for e in at.error)


# ---------------------------------------------------------------- 12. user text shown literally
HOSTILE_TEXT = ["![x](http://h/p.png)", "[a](http://x)", "<b>bold</b>", "**b** _i_ `c` $x$ :red[r] # h",
                "http://x.example/a", "www.x.org a@b.cn :smile:", "a\nb\r\n    code", "&lt; \\ \\[", "1. item", "| a | b |"]


def _unescape(md: str) -> str:
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md).replace("\u2060", "")


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_literal_escapes_every_markup_character(text):
    from ui.shell import literal

    out = literal(text)
    # no markup character is left unescaped: every ASCII punctuation character is preceded by a backslash
    i = 0
    while i < len(out):
        if out[i] == "\\":
            assert i + 1 < len(out) and not out[i + 1].isalnum(), out
            i += 2
            continue
        assert out[i].isalnum() or out[i] in " \u2060" or ord(out[i]) > 127, (out, i)
        if out[i - 1] in ":@." and i > 0 and out[i - 2] == "\\":
            assert out[i] == "\u2060"  # autolinks (http://, www., a@b.c) and emoji codes broken
        i += 1
    import re

    assert _unescape(out) == re.sub(r"[\r\n\t]", " ", text)  # shown as typed (line breaks as spaces)


def test_bad_url_notice_shows_the_value_literally():
    at = app_test("images")
    at.query_params["im_src"] = "![x](http://h/p.png)"
    at.run()
    assert not at.exception
    body = at.toast[0].value
    from tests.test_hostile_urls import unescaped_markup

    assert not unescaped_markup(body)
    assert "im_src=![x](http://h/p.png)" in _unescape(body)


def test_user_error_values_are_literal():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(
        "import streamlit as st\nfrom explainer.errors import UserError\nfrom ui.shell import t_error\n"
        "st.error(t_error(UserError('errors.not_a_number', text='[a](http://x) <b>')))\n"
        "st.error(t_error(RuntimeError('<img src=x> ![i](http://h/p.png)')))\n", default_timeout=30).run()
    assert not at.exception
    from tests.test_hostile_urls import unescaped_markup

    assert len(at.error) == 2
    for e in at.error:
        assert not unescaped_markup(e.value), e.value


# ---------------------------------------------------------------- 13. what is published to the URL
def test_invalid_kernel_text_not_published():
    at = app_test("kernels")
    at.query_params["kn_kernel"] = "custom"
    at.run()
    good = at.query_params["kn_custom"]
    at.text_area(key="kn_custom").input("1 2; 3 x").run()
    assert not at.exception and at.error
    assert at.query_params["kn_custom"] == good  # the refused text stays off the link
    at.text_area(key="kn_custom").input("1 2; 3 4").run()
    assert at.query_params["kn_custom"] == "1 2; 3 4"
    # 2 MB, as seen in the wild: max_chars cuts it (in the browser and on the server), the rest is refused
    at.session_state["kn_custom"] = "9" * 2_000_000
    at.run()
    assert not at.exception and at.error and at.query_params["kn_custom"] == "1 2; 3 4"
    assert len(at.session_state["kn_custom"]) <= limits.KERNEL_TEXT_CHARS
    at = app_test("kernels")
    at.query_params.update(kn_kernel="custom", kn_custom="1 " * 1_000)  # over the limit in a link
    at.run()
    assert not at.exception and at.toast and len(at.query_params["kn_custom"]) <= limits.URL_PUBLISH_CHARS


# ---------------------------------------------------------------- 14. configuration
def test_streamlit_config_hides_error_details_and_matches_limits():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["showErrorDetails"] == "none"
    # the server's cap on one upload request is the largest file limit (the own-images zip), no more
    assert cfg["server"]["maxUploadSize"] * 1024 * 1024 == limits.UPLOAD_REQUEST_BYTES == limits.OWN_ZIP_BYTES
    assert limits.UPLOAD_REQUEST_BYTES >= max(limits.UPLOAD_BYTES, limits.CHECKPOINT_BYTES)


def test_each_file_uploader_tells_the_browser_its_own_limit():
    """Streamlit's server cap is one number for every uploader (50 MB, for the zip): each uploader passes its own
    limit as max_upload_size, so the browser refuses a larger picture or checkpoint before sending it, and its size
    line (common.uploader_limit, by the key's class) says that limit in the learner's language."""
    from tests.conftest import app_test

    def uploaders(at):  # the widget's id ends with its key
        return {u.proto.id.rsplit("-", 1)[-1]: u.proto.max_upload_size_mb for u in at.get("file_uploader")}

    at = app_test("kernels")
    at.query_params["kn_src"] = "upload"
    at.run()
    assert uploaders(at) == {"kn_upload": limits.mb(limits.UPLOAD_BYTES)}
    at = app_test("train")
    at.query_params["tr_dataset"] = "own"
    at.run()
    shown = uploaders(at)
    assert shown["tr_own_zip"] == limits.mb(limits.OWN_ZIP_BYTES) == 50
    assert shown["tr_load"] == limits.mb(limits.CHECKPOINT_BYTES) == 20


def test_limits_shown_in_help_texts_in_both_languages():
    from explainer.i18n import translate

    for lang in ("en", "zh"):
        text = translate("picker.upload_help", lang, mb=20, side=1024, mp=40, mp_deep=16)
        assert "20" in text and "40" in text and "16" in text
        assert str(limits.mb(limits.CHECKPOINT_BYTES)) in translate("train.load_help", lang, mb=20)
