"""'Images are numbers' under AppTest: defaults, widget changes, both languages, uploads good and bad."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from explainer.i18n import translate
from tests.conftest import app_test, mnist_test_digit
from ui.tables.images import TABLE as IMAGES


def _png(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_defaults(lang):
    at = app_test("images", lang).run()
    assert not at.exception
    assert at.title[0].value == translate("images.title", lang)
    assert len(at.get("plotly_chart")) == 7  # digit, flat vector, one-hot, photo, R, G, B
    assert at.number_input(key="im_digit").value == 0
    assert not at.info, "MNIST must be available in tests (MNIST_DIR)"
    # test image #0 read here straight from the IDX files (gzip + numpy, not the app's loader): its label and range
    img, label = mnist_test_digit(0)
    md = [m.value for m in at.markdown]
    assert translate("images.digit_text", lang, label=label, lo=int(img.min()), hi=int(img.max())) in md
    row = IMAGES["im_row"].default
    assert translate("images.flat_text", lang, n=784, row=row, start=row * 28, end=row * 28 + 27) in md
    onehot = "[" + ", ".join(str(int(i == label)) for i in range(10)) + "]"
    assert translate("images.onehot_text", lang, label=label, vector=onehot) in md


def test_changing_digit_and_row_updates_text_and_url():
    at = app_test("images").run()
    at.number_input(key="im_digit").set_value(1).run()
    assert not at.exception
    img, label = mnist_test_digit(1)  # a 2
    assert translate("images.digit_text", "en", label=label, lo=int(img.min()), hi=int(img.max())) in \
        [m.value for m in at.markdown]
    at.slider(key="im_row").set_value(3).run()
    assert translate("images.flat_text", "en", n=784, row=3, start=84, end=111) in [m.value for m in at.markdown]
    assert at.query_params["im_digit"] == "1" and at.query_params["im_row"] == "3"


def test_numbers_toggle():
    at = app_test("images").run()
    at.toggle(key="im_numbers").set_value(False).run()
    assert not at.exception


def test_grey_image_has_one_channel():
    at = app_test("images").run()
    at.selectbox(key="im_src").select("camera").run()
    assert not at.exception
    assert any(i.value == translate("images.grey_only", "en") for i in at.info)
    assert len(at.get("plotly_chart")) == 5


def test_upload_rgb_then_bad_file_keeps_previous_image():
    at = app_test("images").run()
    at.selectbox(key="im_src").select("upload").run()
    assert at.info  # waiting for an upload
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200
    at.file_uploader(key="im_upload").upload("red.png", _png(rgb), "image/png")
    at.run()
    assert not at.exception and not at.error
    assert any("20×30×3" in m.value for m in at.markdown)
    at.file_uploader(key="im_upload").set_value(("notes.txt", b"just some text", "text/plain"))
    at.run()
    assert not at.exception
    assert at.error[0].value == translate("errors.upload_not_image", "en")
    assert any("20×30×3" in m.value for m in at.markdown), "the previous image stays"


def test_huge_upload_is_downscaled():
    at = app_test("images").run()
    at.selectbox(key="im_src").select("upload").run()
    at.file_uploader(key="im_upload").upload("big.png", _png(np.full((1500, 2100, 3), 90, np.uint8)), "image/png")
    at.run()
    assert not at.exception and not at.error
    assert any(translate("picker.downscaled", "en", side=1024) == c.value for c in at.caption)


def test_shared_link():
    at = app_test("images")
    at.query_params["im_digit"] = "2"
    at.query_params["im_src"] = "coffee"
    at.run()
    assert at.number_input(key="im_digit").value == 2
    assert at.selectbox(key="im_src").value == "coffee"


def test_an_image_no_larger_than_the_crop_has_no_crop_sliders():
    """The 6×6 step edge is smaller than the 8×8 crop: the crop is the whole image (a slider from 0 to 0 crashed)."""
    at = app_test("images", im_src="step_edge").run()
    assert not at.exception, at.exception
    assert not [s for s in at.slider if s.key in ("im_top", "im_left")]
