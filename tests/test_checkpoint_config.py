"""A checkpoint's configuration is checked like a URL value (issue 21 item 8): every setting by its exact JSON
type and within the limits of ``explainer/limits.py``, an unknown setting refused; the Train page's declared
settings (``ui/tables/train.py``) all lie within those limits, so each checkpoint the page makes loads back."""
from __future__ import annotations

import io
import json

import pytest
import torch

from explainer import limits
from explainer.learning import models
from explainer.errors import UserError
from explainer.learning.models import build_model
from explainer.learning.train import CHECKPOINT_FORMAT, TrainConfig, load_checkpoint, save_checkpoint


def _blob(config: dict, model: str = "mlp") -> bytes:
    """A checkpoint as ``save_checkpoint`` writes it, with ``config`` as its settings (the weights fit ``model``)."""
    torch.manual_seed(0)
    net = build_model(model, **config.get("model_options", {}))
    buf = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "config": json.dumps(config),
                "state_dict": {k: v.detach() for k, v in net.state_dict().items()}}, buf)
    return buf.getvalue()


GOOD = TrainConfig(model="mlp").to_dict()


@pytest.mark.parametrize("change", [
    {"seed": 2 ** 80},                  # above limits.SEED_MAX (was accepted)
    {"seed": -1},
    {"device": "cuda:7"},               # an index no app-made checkpoint has (was accepted)
    {"device": "tpu"},
    {"nonsense": 1},                    # an unknown setting (was silently dropped)
    {"lr": "0.01"},                     # a number as a string (was converted)
    {"lr": True},
    {"epochs": "3"},                    # a whole number as a string (was converted)
    {"epochs": 0.75},                   # a fraction below one epoch (2.5 is taken: issue 23)
    {"batch_size": True},
    {"one_cycle": "yes"},               # a bool as a string (was truthy)
    {"augment": 1},
    {"evals_per_epoch": 10 ** 9},       # (was accepted: a curve point every step)
    {"eval_size": 0},
    {"eval_size": 10 ** 9},
    {"model": ["mlp"]},
    {"train_size": 10 ** 12},
])
def test_a_checkpoint_config_out_of_its_declared_limits_is_refused(change):
    config = dict(GOOD, **change)
    with pytest.raises(UserError) as exc:
        load_checkpoint(_blob(config))
    assert exc.value.key.startswith("errors.")


@pytest.mark.parametrize("options", [{"blocks": 2.5}, {"channels": "16"}, {"batchnorm": "no"}, {"pool": 3},
                                     {"dropout": "0.1"}, {"width": 3}])
def test_custom_model_options_are_typed_too(options):
    config = dict(GOOD, model="custom", model_options={"blocks": 1, "channels": 4, **options})
    good = dict(GOOD, model="custom", model_options={"blocks": 1, "channels": 4})
    with pytest.raises(UserError):
        load_checkpoint(_blob_with(config))
    assert load_checkpoint(_blob(good, "custom"))[1].model_options == {"blocks": 1, "channels": 4}


def _blob_with(config: dict) -> bytes:
    """A custom model's checkpoint whose config names an option the builder doesn't have (weights of 1 block, 4)."""
    net = build_model("custom", blocks=1, channels=4)
    buf = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "config": json.dumps(config), "state_dict": net.state_dict()}, buf)
    return buf.getvalue()


def test_every_app_made_config_loads_back():
    """What the app and the command line write: defaults, the CLI's extremes, devices without an index."""
    for change in ({}, {"seed": limits.SEED_MAX, "epochs": limits.EPOCHS_CLI, "batch_size": limits.BATCH_SIZE_MAX,
                        "train_size": limits.TRAIN_SIZE_MIN, "lr": None},
                   {"device": "cpu"}, {"device": "cuda"}, {"device": "mps"}, {"lr": 1e-5, "optimizer": "sgd"}):
        config = dict(GOOD, **change)
        assert load_checkpoint(_blob(config))[1].to_dict() == config


def test_a_trainconfig_refuses_a_seed_beyond_the_limit():
    with pytest.raises(UserError):
        TrainConfig(seed=limits.SEED_MAX + 1)
    with pytest.raises(UserError):
        TrainConfig(evals_per_epoch=0)


def test_the_train_pages_declared_settings_lie_within_the_checkpoint_limits():
    """The tie between ``ui/tables/train.py`` (what the page offers) and the checkpoint's limits (what a file may
    hold): each declared range and option is inside; a config from every end of every range saves and loads."""
    from ui.tables.train import TABLE

    p = {param.key: param for param in TABLE.params}
    # every model and every optimizer the page offers saves and loads (a checkpoint that refuses one fails here)
    for name in p["tr_model"].options:
        config = TrainConfig(model=name)
        torch.manual_seed(0)
        assert load_checkpoint(save_checkpoint(config.build(), config))[1] == config, name
    for name in p["tr_opt"].options:
        config = TrainConfig(optimizer=name, lr=p["tr_lr"].default)
        assert load_checkpoint(save_checkpoint(TrainConfig().build(), config))[1] == config, name
    assert 0 <= p["tr_seed"].lo and p["tr_seed"].hi <= limits.SEED_MAX
    assert 1 <= p["tr_epochs"].lo and p["tr_epochs"].hi <= limits.EPOCHS_CLI
    assert 0 < p["tr_lr"].lo and p["tr_lr"].hi < limits.TRAIN_LR_MAX
    assert all(1 <= b <= limits.BATCH_SIZE_MAX for b in p["tr_bs"].options)
    assert all(limits.TRAIN_SIZE_MIN <= n <= limits.TRAIN_SIZE_MAX for n in p["tr_size"].options)
    assert 1 <= p["tr_blocks"].lo and p["tr_blocks"].hi <= models.MAX_BLOCKS
    assert all(1 <= c <= models.MAX_CHANNELS for c in p["tr_channels"].options)
    assert set(p["tr_kernel"].options) <= set(models.KERNEL_SIZES) and set(p["tr_pool"].options) <= set(models.POOLS)
    assert 0 <= p["tr_dropout"].lo and p["tr_dropout"].hi <= models.MAX_DROPOUT
    for end in ("lo", "hi"):
        first = end == "lo"
        pick = (lambda q: getattr(q, end))
        opt = (lambda q: q.options[0] if first else q.options[-1])
        options = dict(blocks=pick(p["tr_blocks"]), channels=opt(p["tr_channels"]), kernel_size=opt(p["tr_kernel"]),
                       pool=opt(p["tr_pool"]), dropout=pick(p["tr_dropout"]), batchnorm=first)
        config = TrainConfig(model="custom", model_options=options, optimizer=opt(p["tr_opt"]), lr=pick(p["tr_lr"]),
                             one_cycle=first, batch_size=opt(p["tr_bs"]), epochs=pick(p["tr_epochs"]),
                             train_size=opt(p["tr_size"]), augment=not first, seed=pick(p["tr_seed"]))
        torch.manual_seed(0)
        back = load_checkpoint(save_checkpoint(build_model("custom", **options), config))[1]
        assert back == config
