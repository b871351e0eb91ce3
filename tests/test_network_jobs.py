"""Inside the network's engine jobs on a real Dask LocalCluster (the ``dask_engine`` fixture): the 9 strongest test
patches per channel and the optimised input come back equal to the library's own results, and the page starts them
and shows their pictures."""
from __future__ import annotations

import time

import numpy as np
import pytest

from explainer.engine import jobs
from explainer.i18n import translate
from explainer.learning import network as N
from tests.conftest import app_test

pytestmark = pytest.mark.usefixtures("dask_engine")


def test_top_patches_job_equals_the_library(mnist_dir):
    from explainer.data.mnist import load_mnist

    model, config = N.reference_checkpoint()
    job = jobs.TopPatchesJob(model, config, 3).start()
    assert job.join(timeout=300), "the patches job did not finish"
    res = job.result
    assert job.state == "done" and res is not None
    x_test = load_mnist()[2]
    assert res["index"].shape == (16, 9) and res["patches"].shape == (16, 9, 6, 6)
    here = N.top_patches(model, x_test[:2000], 3)  # the best of the first 2,000 can't beat the best of all 10,000
    assert (res["value"][:, 0] >= here["value"][:, 0] - 1e-6).all()
    for ch in (0, 5):  # each place really is that strong, in this process too
        for i, r, c, v in zip(res["index"][ch][:3], res["row"][ch][:3], res["col"][ch][:3], res["value"][ch][:3]):
            assert N.trace(model, x_test[i] / 255.0)[3].output[ch, r, c] == pytest.approx(v, abs=1e-5)


def test_optimise_input_job(mnist_dir):
    model, config = N.reference_checkpoint()
    job = jobs.OptimiseInputJob(model, config, 7, 4, steps=30).start()
    assert job.join(timeout=300), "the optimise job did not finish"
    out = job.result
    assert out["image"].shape == (28, 28) and len(out["values"]) == 30
    assert out["values"][-1] > out["values"][0]
    np.testing.assert_allclose(out["image"], N.optimise_input(model, 7, 4, steps=30)["image"], atol=1e-4)


def test_the_page_starts_the_patch_job_and_shows_the_patches(mnist_dir):
    at = app_test("network", timeout=120)
    at.query_params.update(nw_layer="3", nw_channel="2")
    at.run()
    assert not at.exception
    at.button(key="nw_find_patches").click().run()
    assert not at.exception
    deadline = time.time() + 300
    while time.time() < deadline:
        time.sleep(1.0)
        at.run()
        if any("the 9 strongest places" in c.proto.spec for c in at.get("plotly_chart")):
            break
    names = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Channel 2: the 9 strongest places" in names
    # its summary names the 9 test pictures and their values (not the mosaic's "11×99 grid, …")
    head = translate("network.patches_summary", "en", c=2, items="@").split("@")[0]
    said = [c.value for c in at.caption if c.value.startswith(head)]
    assert len(said) == 1 and said[0].count("#") == 9 and "grid" not in said[0], said
    assert not at.exception


def test_own_colour_pictures_top_patches_and_optimised_input():
    """A run on a learner's own colour pictures (issue 23): its test pictures go with the patches job and come back as
    colour patches, each really the place where its channel is that strong; the optimised input is a 32×32 colour
    picture, the engine's equal to the library's. The model is freshly initialised (seeded): what the jobs compute
    needs no training."""
    from explainer.data import datasets
    from explainer.data.ownimages import read_zip
    import torch

    from explainer.learning.train import TrainConfig
    from tests.ownzips import make_zip, picture_files

    own = read_zip(make_zip(picture_files(6)), "colour32")
    data = tuple(np.array(a) for a in (own.train_x, own.train_y, own.test_x, own.test_y))
    config = TrainConfig(model="fast", dataset=datasets.OWN, own=datasets.own_spec(own), device="cpu")
    torch.manual_seed(0)
    model = config.build().eval()
    job = jobs.TopPatchesJob(model, config, 2, data=(data[0][:0], data[1][:0], data[2], data[3])).start()
    opt = jobs.OptimiseInputJob(model, config, 3, 1, steps=20).start()
    assert job.join(timeout=300) and opt.join(timeout=300), "the jobs did not finish"
    res = job.result
    k = min(N.TOP_K, len(own.test_x))
    size = res["field"][0]
    assert res["patches"].shape == (16, k, size, size, 3) and (res["index"] < len(own.test_x)).all()
    for ch in (0, 7):
        i, r, c, v = res["index"][ch][0], res["row"][ch][0], res["col"][ch][0], res["value"][ch][0]
        assert N.trace(model, own.test_x[i] / 255.0)[2].output[ch, r, c] == pytest.approx(v, abs=1e-5)
        np.testing.assert_array_equal(res["patches"][ch][0], N.patch_at(own.test_x[i] / 255.0, res["field"], r, c))
    from explainer.figures import network as figs

    fig = figs.patches(res["patches"][0], [str(i) for i in range(k)], title="patches")  # shown in their colours
    z = fig.data[0].z
    assert fig.data[0].type == "image" and z.dtype == np.uint8 and z.shape == (size, k * (size + 1) - 1, 3)
    np.testing.assert_array_equal(z[:size, :size], np.rint(res["patches"][0][0] * 255))
    out = opt.result
    assert out["image"].shape == (32, 32, 3) and len(out["values"]) == 20 and out["values"][-1] > out["values"][0]
    np.testing.assert_allclose(out["image"], N.optimise_input(model, 3, 1, steps=20, shape=(3, 32, 32))["image"],
                               atol=1e-4)
    with pytest.raises(Exception):  # a job on own pictures without them is refused before it starts
        jobs.TopPatchesJob(model, config, 2)
