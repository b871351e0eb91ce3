"""One optimizer table (explainer.learning.optimizers) behind the Optimizers page, training, the exported script and the CLI."""
import pytest
import torch

from explainer.learning import optim, optimizers, train
from explainer.errors import UserError


def _hyper(opt: torch.optim.Optimizer) -> dict:
    group = dict(opt.param_groups[0])
    group.pop("params")
    return group


def _params():
    return [torch.zeros(3, requires_grad=True)]


def test_momentum_means_heavy_ball_momentum_in_both_lessons():
    trained = train._optimizer(train.TrainConfig(optimizer="momentum"), _params())
    raced = optim._make("momentum", _params(), {})
    assert type(trained) is type(raced) is torch.optim.SGD
    for opt in (trained, raced):
        assert _hyper(opt)["momentum"] == 0.9 and _hyper(opt)["nesterov"] is False
    assert _hyper(optim._make("nesterov", _params(), {}))["nesterov"] is True


@pytest.mark.parametrize("name", optimizers.TRAIN_NAMES)
def test_training_and_the_exported_code_build_the_same_optimizer(name):
    config = train.TrainConfig(optimizer=name)
    built = train._optimizer(config, _params())
    model = torch.nn.Linear(3, 1)
    from_code = eval(optimizers.code(name, config.learning_rate), {"torch": torch, "model": model})  # noqa: S307
    assert type(from_code) is type(built) is optimizers.OPTIMIZERS[name].cls
    assert _hyper(from_code) == _hyper(built)
    assert f"opt = {optimizers.code(name, config.learning_rate)}\n" in train.export_code(config)


@pytest.mark.parametrize("name", optimizers.NAMES)
def test_the_surfaces_and_training_share_each_entrys_settings(name):
    entry = optimizers.OPTIMIZERS[name]
    raced = _hyper(optim._make(name, _params(), {}))
    assert raced["lr"] == entry.surface_lr
    for key, value in entry.settings.items():
        assert raced[key] == value, key
    if entry.train_lr is not None:
        assert train.DEFAULT_LR[name] == entry.train_lr
        assert _hyper(optimizers.build(name, _params(), entry.train_lr)) == {**raced, "lr": entry.train_lr,
                                                                              "foreach": None}


def test_the_lists_come_from_the_table():
    assert optim.OPTIMIZER_NAMES == optimizers.NAMES == tuple(optimizers.OPTIMIZERS)
    assert train.OPTIMIZERS == optimizers.TRAIN_NAMES == ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
    with pytest.raises(SystemExit) as info:
        train.main(["--optimizer", "adagrad", "--json"])  # not offered for training: argparse refuses it
    assert info.value.code == 2


def test_unknown_names_are_user_errors_with_their_own_key():
    with pytest.raises(UserError) as info:
        optimizers.build("lion", _params(), 0.1)
    assert info.value.key == "errors.unknown_optimizer" and info.value.params["value"] == "lion"
    with pytest.raises(UserError):
        optim.trajectory("quadratic", "lion", (0, 0), 5)
