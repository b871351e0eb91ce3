"""The command line trains on a learner's own pictures: ``--dataset <zip or folder>`` (the Train page's rules and
limits, through ``explainer.data.ownimages``), its JSON naming the data set, its classes, the data hash the run store
records and the test accuracy; a hostile zip or folder is one line of message and exit code 2, no traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from explainer import limits
from explainer.data import ownimages
from explainer.errors import UserError
from explainer.learning import train as train_cli
from tests.ownzips import make_zip, picture_files

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--model", "mlp", "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--json"]


def _cli(*args, timeout=120):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "explainer.learning.train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def files():
    return picture_files(6)  # 4 classes (photographs) × 6 crops: one or two test pictures per class


@pytest.fixture(scope="module")
def zip_path(files, tmp_path_factory):
    p = tmp_path_factory.mktemp("own") / "pets.zip"
    p.write_bytes(make_zip(files))
    return p


@pytest.fixture(scope="module")
def folder(files, tmp_path_factory):
    root = tmp_path_factory.mktemp("ownfolder") / "pictures"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _ok(res) -> dict:
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1, res.stdout  # one JSON object, nothing else
    return json.loads(lines[0])


def test_cli_trains_on_a_zip_of_real_pictures(zip_path):
    got = _ok(_cli("--dataset", str(zip_path), *TINY))
    expected = ownimages.read_zip(zip_path.read_bytes(), "colour32")  # the page's default mode
    assert got["dataset"] == "own" and got["own_mode"] == "colour32" and expected.shape == (3, 32, 32)
    assert got["classes"] == ["astronaut", "chelsea", "coffee", "rocket"] == list(expected.class_names)
    assert got["data_sha256"] == expected.sha256  # what datasets.own_spec (and so the run store) records
    assert got["test_images"] == len(expected.test_y) == 4 and got["train_images"] == 20
    assert 0.0 <= got["test_accuracy"] <= 1.0 and got["test_accuracy"] * 4 == round(got["test_accuracy"] * 4)


def test_cli_trains_on_a_folder_as_on_its_zip_in_grey(folder, zip_path):
    got = _ok(_cli("--dataset", str(folder), "--own-mode", "grey28", *TINY))
    from_zip = ownimages.read_zip(zip_path.read_bytes(), "grey28")
    from_folder = ownimages.read_folder(str(folder), "grey28")
    assert got["dataset"] == "own" and got["own_mode"] == "grey28" and from_folder.shape == (1, 28, 28)
    assert got["classes"] == list(from_zip.class_names)
    assert got["data_sha256"] == from_folder.sha256 == ownimages.read_folder(str(folder), "grey28").sha256  # stable
    assert got["test_images"] == 4 and 0.0 <= got["test_accuracy"] <= 1.0
    for a, b in ((from_zip.train_x, from_folder.train_x), (from_zip.test_y, from_folder.test_y)):
        assert a.shape == b.shape and (a == b).all()  # the same pictures, prepared and split the same way


def test_cli_refuses_hostile_zips_and_folders_in_one_line(tmp_path, capsys):
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as z:
        z.writestr("../../etc/cat/1.png", b"x")
    (tmp_path / "notes.txt").write_text("secret")
    linked = tmp_path / "linked"
    linked.mkdir()
    for cls in ("a", "b"):
        (linked / cls).mkdir()
    (linked / "a" / "escape.png").symlink_to(tmp_path / "notes.txt")
    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    cases = [(slip, "points outside the zip"), (linked, "a link to something outside the folder"),
             (one, "class folders; at least 2"), (tmp_path / "nothing-here", "must be mnist / fashion, a .zip or a folder")]
    res = _cli("--dataset", str(slip), *TINY)  # one through a real process: its exit code and its whole output
    assert res.returncode == 2 and res.stdout == "" and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ") and cases[0][1] in res.stderr, res.stderr
    for path, words in cases:  # the rest in this process (the same main(); a subprocess costs seconds of imports)
        assert train_cli.main(["--dataset", str(path), *TINY]) == 2, path
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith("error: ") and words in err, (path, err)


def test_folder_bounds_are_checked_before_reading(tmp_path, monkeypatch):
    root = tmp_path / "big"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
    (root / "a" / "huge.png").write_bytes(b"\0" * 1024)  # its size counts before anything is read
    monkeypatch.setattr(limits, "OWN_ZIP_BYTES", 1000)
    read = []
    monkeypatch.setattr(os, "open", lambda *a, **k: read.append(a) or (_ for _ in ()).throw(AssertionError("read")))
    with pytest.raises(UserError) as exc:
        ownimages.read_folder(str(root))
    assert exc.value.key == "errors.zip.folder_too_big" and not read
    monkeypatch.setattr(limits, "OWN_ZIP_BYTES", 50 * 1024 * 1024)
    monkeypatch.setattr(limits, "OWN_ZIP_ENTRIES", 3)  # a, b, a/huge.png … and one more
    (root / "b" / "x.png").write_bytes(b"1")
    with pytest.raises(UserError) as exc:
        ownimages.read_folder(str(root))
    assert exc.value.key == "errors.zip.folder_too_many" and not read
