"""Train page in a real browser on your own pictures: upload a zip of real photographs (tests/ownzips.py) through the
file uploader, see the class counts and the sample grid, train the smallest model on the engine, see its accuracy."""
from __future__ import annotations

import re

from tests.browser.conftest import assert_no_exception, goto, screenshot, wait_idle
from tests.ownzips import make_zip, picture_files


def test_upload_a_zip_and_train_on_it(page, app, tmp_path):
    zip_path = tmp_path / "photos.zip"
    zip_path.write_bytes(make_zip(picture_files(6)))  # 4 classes (photographs) × 6 crops: 20 to train, 4 to test
    goto(page, app, "train", tr_dataset="own", tr_model="mlp", tr_epochs="1", tr_bs="16")
    assert_no_exception(page)
    page.wait_for_selector("text=Upload a zip of pictures")  # nothing to train on yet
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="one top-level folder per class")
    size_line = uploader.locator('[data-testid="stFileUploaderDropzoneInstructions"] > div').evaluate(
        "e => getComputedStyle(e, '::after').content")
    assert size_line == '"Up to 50 MB per file"', size_line  # the zip's own limit, not the pictures' 20 MB
    uploader.locator('input[type="file"]').set_input_files(str(zip_path))
    page.wait_for_selector("text=24 pictures in 4 classes: 20 to train on, 4 to test on", timeout=60_000)
    wait_idle(page, 60_000)
    assert_no_exception(page)
    table = page.locator('[data-testid="stDataFrame"]').first  # the class counts (a canvas grid; its cells in the DOM)
    table.wait_for()
    cells = table.locator('[role="gridcell"]').all_text_contents()
    assert cells[:8] == ["astronaut", "6", "chelsea", "6", "coffee", "6", "rocket", "6"], cells
    captions = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    assert [c for c in captions if c in ("astronaut", "chelsea", "coffee", "rocket")] == \
        ["astronaut", "chelsea", "coffee", "rocket"], captions  # each class: its name above its row of samples
    assert page.locator('[data-testid="stImage"] img').count() >= 4  # the sample grid: one row per class
    page.get_by_role("button", name="▶ Start training").click()
    page.wait_for_selector("text=/Test accuracy \\d+\\.\\d+ %/", timeout=120_000)  # the engine starts on first use
    wait_idle(page, 60_000)
    assert_no_exception(page)
    acc = re.search(r"Test accuracy (\d+\.\d+) %", page.inner_text("body"))
    assert acc and 0 <= float(acc.group(1)) <= 100 and float(acc.group(1)) * 4 % 100 == 0  # k of 4 test pictures
    screenshot(page, "train-own-trained")
