"""A learner's own pictures (explainer.data.ownimages): a zip of real photographs cut into classes, both modes, the
seeded stratified split, the preparation, the conversions, and the careless-but-fine zips that are read."""
from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from explainer import limits
from explainer.data import images
from explainer.data.draw import preprocess_drawing
from explainer.errors import UserError
from explainer.data.ownimages import prepare, read_zip, split
from tests.ownzips import PHOTOS, encode, make_zip, picture_files


@pytest.fixture(scope="module")
def files():
    return picture_files(12)  # 4 photographs × 12 crops, PNG/JPEG/WebP/BMP/GIF in turn


@pytest.fixture(scope="module")
def blob(files):
    return make_zip(files)


@pytest.fixture(scope="module")
def colour(blob):
    return read_zip(blob, "colour32", seed=0)


def test_classes_counts_shapes_and_hash(colour, blob):
    ds = colour
    assert ds.class_names == tuple(sorted(PHOTOS))
    assert ds.counts == (12, 12, 12, 12)
    assert ds.train_x.shape == (40, 32, 32, 3) and ds.test_x.shape == (8, 32, 32, 3)
    assert ds.train_x.dtype == np.uint8 and ds.train_y.dtype == np.int64
    assert ds.shape == (3, 32, 32) and ds.channels == 3 and ds.n_classes == 4
    assert ds.sha256 == hashlib.sha256(blob).hexdigest()
    assert not ds.train_x.flags.writeable and not ds.test_y.flags.writeable
    assert [s.shape for s in ds.samples] == [(limits.OWN_SAMPLES_PER_CLASS, 32, 32, 3)] * 4


def test_split_is_stratified_disjoint_and_seeded(colour, blob):
    ds = colour
    assert np.bincount(ds.test_y, minlength=4).tolist() == [2, 2, 2, 2]  # round(0.2 × 12)
    assert np.bincount(ds.train_y, minlength=4).tolist() == [10, 10, 10, 10]
    train = {x.tobytes() for x in ds.train_x}
    assert len(train) == 40 and not train & {x.tobytes() for x in ds.test_x}
    again = read_zip(blob, "colour32", seed=0)
    assert np.array_equal(again.train_x, ds.train_x) and np.array_equal(again.test_y, ds.test_y)
    other = read_zip(blob, "colour32", seed=1)
    assert {x.tobytes() for x in other.test_x} != {x.tobytes() for x in ds.test_x}
    assert np.bincount(other.test_y, minlength=4).tolist() == [2, 2, 2, 2]


def test_split_rounds_and_keeps_one_for_testing():
    y = np.repeat(np.arange(3), [5, 7, 23])
    tr, te = split(y, 3, seed=4)
    assert np.bincount(y[te]).tolist() == [1, 1, 5] and len(tr) + len(te) == len(y)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(y)))


def test_samples_are_each_classes_training_pictures(colour):
    for c, s in enumerate(colour.samples):
        own = {x.tobytes() for x in colour.train_x[colour.train_y == c]}
        assert {x.tobytes() for x in s} <= own


def _colour_features(x: np.ndarray) -> np.ndarray:
    """Mean and spread of each channel over a picture's non-padding pixels."""
    x = x.astype(np.float64)
    inside = x.sum(-1) > 0
    return np.stack([np.concatenate([p[m].mean(0), p[m].std(0)]) for p, m in zip(x, inside)])


def _leave_one_out(f: np.ndarray, y: np.ndarray) -> float:
    hits = 0
    for i in range(len(f)):
        rest = np.arange(len(f)) != i
        means = np.stack([f[rest & (y == c)].mean(0) for c in range(int(y.max()) + 1)])
        hits += int(np.argmin(((f[i] - means) ** 2).sum(-1)) == y[i])
    return hits / len(f)


def test_classes_are_the_pictures_content(colour):
    """The labels belong to the pictures: guessing each picture's class by the nearest class-mean colour (the others'
    means) is right for most (four different photographs: 0.79 measured), the same with shuffled labels near chance."""
    f = _colour_features(np.concatenate([colour.train_x, colour.test_x]))
    y = np.concatenate([colour.train_y, colour.test_y])
    assert _leave_one_out(f, y) >= 0.6
    assert _leave_one_out(f, np.random.default_rng(0).permutation(y)) < 0.45


def test_colour_pictures_keep_their_aspect_padded_with_black():
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[..., 0] = 200  # a red 2:1 picture → 32×16 red band in the middle rows
    out = prepare(wide, "colour32")
    assert out.shape == (32, 32, 3)
    assert (out[:8] == 0).all() and (out[24:] == 0).all()
    assert (out[8:24, :, 0] == 200).all() and (out[8:24, :, 1:] == 0).all()
    tall = prepare(np.full((90, 30), 77, np.uint8), "colour32")  # grey 3:1 → 3 channels, 11 of 32 columns
    assert (tall[:, :10] == 0).all() and (tall[:, 21:] == 0).all() and (tall[:, 10:21] == 77).all()


def test_grey_pictures_are_prepared_exactly_as_a_drawn_digit(files):
    name = next(n for n in files if n.endswith(".png"))
    arr, _ = images.decode_upload(files[name], max_side=limits.OWN_DECODE_SIDE)
    expected = np.rint(preprocess_drawing(arr) * 255).astype(np.uint8)
    ds = read_zip(make_zip({name: files[name], **{f"b/{i}.png": encode(np.full((9, 9), 20 * i + 5, np.uint8))
                                                  for i in range(5)}} | {k: v for k, v in files.items()
                                                                           if k.startswith(name.split("/")[0])}),
                  "grey28")
    assert ds.train_x.shape[1:] == (28, 28) and ds.shape == (1, 28, 28)
    allx = np.concatenate([ds.train_x, ds.test_x])
    assert any(np.array_equal(x, expected) for x in allx)


def test_grey_mode_centres_the_ink(blob):
    ds = read_zip(blob, "grey28")
    from scipy import ndimage

    for x in ds.train_x[:10]:
        if x.max() > 0:
            cy, cx = ndimage.center_of_mass(x.astype(float))
            assert abs(cy - 13.5) < 1.5 and abs(cx - 13.5) < 1.5


def test_a_zipped_folder_junk_and_deeper_folders_are_read(files):
    wrapped = {f"my pictures/{k}": v for k, v in files.items()}
    wrapped["my pictures/astronaut/more/extra.png"] = encode(np.arange(64, dtype=np.uint8).reshape(8, 8))
    wrapped["__MACOSX/my pictures/astronaut/._000.png"] = b"\0\5\26\7junk"
    wrapped["my pictures/.DS_Store"] = b"\0\0\0\1Bud1"
    wrapped["my pictures/coffee/Thumbs.db"] = b"junk"
    ds = read_zip(make_zip(wrapped, dirs=["my pictures", "my pictures/astronaut"]), "colour32")
    assert ds.class_names == tuple(sorted(PHOTOS)) and ds.counts == (13, 12, 12, 12)


def test_names_are_kept_as_written(files):
    """Odd but harmless class names (markdown, HTML, Chinese, emoji, a macOS NFD accent) come back as written."""
    odd = ["猫 & <i>*狗*", "[x](http:e.com) `y` #1", "cafe\u0301 😀"]  # no slashes: they make folders
    renamed = {}
    for (cls, new) in zip(PHOTOS, odd):
        renamed.update({k.replace(cls, new, 1): v for k, v in files.items() if k.startswith(cls + "/")})
    ds = read_zip(make_zip(renamed), "colour32")
    assert set(ds.class_names) == {odd[0], odd[1], "café 😀"}


def test_utf8_names_without_the_flag_are_read_as_utf8(files):
    """Some zip tools write UTF-8 names without saying so; zipfile would read them as cp437 (mojibake)."""
    renamed = {}
    for cls, new in zip(PHOTOS[:2], ("CAT", "DOG")):  # ASCII names of the same byte length, replaced below
        renamed.update({k.replace(cls, new, 1): v for k, v in files.items() if k.startswith(cls + "/")})
    blob = make_zip(renamed).replace(b"CAT/", "猫/".encode()).replace(b"DOG/", "狗/".encode())
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        assert not any(i.flag_bits & 0x800 for i in z.infolist()) and z.namelist()[0].startswith("τî½")  # cp437
    assert read_zip(blob, "grey28").class_names == ("狗", "猫")


def _variants() -> dict[str, Image.Image]:
    base = np.asarray(Image.fromarray(np.random.default_rng(3).integers(0, 255, (24, 30, 3), dtype=np.uint8)))
    frames = [Image.fromarray(np.full((20, 20, 3), v, np.uint8)) for v in (10, 250)]
    anim = io.BytesIO()
    frames[0].save(anim, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {"sixteen.png": Image.fromarray((base[..., 0].astype(np.uint16) * 257)),
            "cmyk.jpg": Image.fromarray(base).convert("CMYK"),
            "palette.png": Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE),
            "alpha.png": Image.fromarray(np.dstack([base, np.full(base.shape[:2], 128, np.uint8)])),
            "anim.gif": anim.getvalue()}


def test_deep_cmyk_palette_alpha_and_animated_pictures_are_converted():
    files = {}
    for name, im in _variants().items():
        fmt = "JPEG" if name.endswith(".jpg") else "GIF" if name.endswith(".gif") else "PNG"
        files[f"odd/{name}"] = im if isinstance(im, bytes) else encode(im, fmt)
    files.update({f"plain/{i}.png": encode(np.full((8, 8, 3), 30 * i + 1, np.uint8)) for i in range(5)})
    ds = read_zip(make_zip(files), "colour32")
    assert ds.counts == (5, 5)
    assert ds.converted == {"sixteen_bit": 1, "cmyk": 1, "palette": 2, "alpha": 1, "animated": 1}
    # the animated GIF: its first frame (dark, 10), not the second (250)
    first = prepare(np.full((20, 20), 10, np.uint8), "colour32")
    allx = np.concatenate([ds.train_x, ds.test_x])
    assert any(np.abs(x.astype(int) - first).max() <= 1 for x in allx)


def test_bad_mode_and_seed_refused(blob):
    with pytest.raises(UserError) as exc:
        read_zip(blob, "rgb64")
    assert exc.value.key == "errors.zip.mode"
    for seed in (-1, limits.SEED_MAX + 1, 1.5, True):
        with pytest.raises(UserError) as exc:
            read_zip(blob, "grey28", seed=seed)
        assert exc.value.key == "errors.seed_range"
