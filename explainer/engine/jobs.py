"""The job kinds: each kind is one class holding both its sides — on the web process what it sends and how its
result comes back, on the worker what it does (``work``, a static method: Dask finds it by the class's name, so a
kind lives at this module's top level). The protocol around them (submitting, polling, stopping, the link to the
worker, what travels back) is ``explainer.engine.protocol``; adding a kind is one class here (CONTRIBUTING.md,
"A new job kind").

- ``TrainingJob(config, data=None)``: a training (``explainer.learning.train``); ``result`` is a ``TrainResult``
  whose model was rebuilt here from the worker's weights, with ``predictions`` and ``probabilities`` of the test
  set (computed by the worker). ``data``: a learner's own images only (``shipped``); a built-in data set is the
  worker's own. A checkpoint is written at every evaluation point; a lost training's Retry goes on from it.
- ``LandscapeJob(model, config=None, *, steps=15, digits=300)``: ``optim.loss_landscape``'s dict.
- ``EvaluationJob(model, config, *, data=None)``: ``train.evaluate``'s dict (e.g. uploaded weights).
- ``ShiftJob(model, config, *, digits=2000)``: the accuracy per shift (``shift.shifted_accuracy``).
- ``TopPatchesJob(model, config, layer)`` and ``OptimiseInputJob(model, config, layer, channel, *, steps=None)``:
  "Inside the network" (``network.top_patches``, ``network.optimise_input``).

Each also takes ``owner=``, ``engine_=`` and ``heartbeat_timeout=`` (``protocol.Job``). The Optimizers page's
2-D races are no job: the written-out update rules (``explainer.learning.optim_rules``) compute the longest one
in a few tens of milliseconds, in the page.
"""
from __future__ import annotations

import copy
import os
import re
import time
from pathlib import Path

from explainer import limits
from explainer.engine.core import Engine
from explainer.engine.protocol import Job, JobView, Link
from explainer.errors import UserError

ENV_CHECKPOINTS = "EXPLAINER_CHECKPOINTS"
LANDSCAPE_DIGITS = 300
LANDSCAPE_STEPS = 15


# ====================================================================== checkpoints of trainings
_KEY = re.compile(r"explainer-[a-z]+-[0-9]{1,20}-[0-9]{1,9}-[0-9a-f]{12}-[0-9]{1,4}-[0-9a-fx]{1,16}")


#: a training's key as ``core.Engine.admit`` makes it: ``explainer-train-<time_ns>-<estimate>-<id>-<rank>-<visitor>``
_TRAINING_KEY = re.compile(r"explainer-train-[0-9]{1,20}-[0-9]{1,9}-[0-9a-f]{12}-[0-9]{1,4}-(?:x|[0-9a-f]{16})")
TRAINING_KEY_CHARS = 96  # the longest such key is 81 characters


def training_key(raw) -> str | None:
    """``raw`` when it is a training's job key as the engine makes them (e.g. from a URL), else ``None``; a long
    value is refused before the pattern sees it."""
    if not isinstance(raw, str) or len(raw) > TRAINING_KEY_CHARS or not _TRAINING_KEY.fullmatch(raw):
        return None
    return raw


def checkpoint_dir() -> Path:
    """Where trainings keep their checkpoints (every evaluation point), readable by the workers and the web
    process: ``$EXPLAINER_CHECKPOINTS``, else ``resume/`` in the run store's folder (``runstore.default_root``).
    A course whose workers run on other machines points it at a shared folder."""
    if os.environ.get(ENV_CHECKPOINTS):
        return Path(os.environ[ENV_CHECKPOINTS])
    from explainer.engine import runstore

    return runstore.default_root() / "resume"


def checkpoint_path(key: str | None) -> Path | None:
    """The checkpoint file of the job ``key`` (``None`` for anything that isn't a job key made here)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        return None
    return checkpoint_dir() / f"{key}.pt"


def drop_checkpoint(key: str | None) -> None:
    path = checkpoint_path(key)
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass


def prune_checkpoints(now: float | None = None) -> None:
    """Remove checkpoints older than ``limits.RESUME_KEEP_SECONDS`` (a lost training not retried in time)."""
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(checkpoint_dir()))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.name.endswith((".pt", ".tmp")) and now - entry.stat().st_mtime > limits.RESUME_KEEP_SECONDS:
                os.unlink(entry.path)
        except OSError:
            pass


def load_resume(key: str | None, config) -> dict | None:
    """The checkpoint ``key``'s training saved last, if it is there and of ``config``; else ``None``."""
    import torch

    path = checkpoint_path(key)
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 — half written, damaged: start from the beginning (and say so)
        return None
    from explainer.learning.train import TrainConfig

    try:
        same = isinstance(state, dict) and TrainConfig.from_dict(state.get("config", {})) == config
    except Exception:  # noqa: BLE001
        same = False
    return state if same else None


def save_resume(key: str, state: dict) -> None:
    """Write a checkpoint atomically (a worker killed while writing leaves the previous one)."""
    import torch

    path = checkpoint_path(key)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
    except OSError:
        pass  # a full disk costs the resume, not the training


def state_of(model) -> dict:
    """A model's weights as CPU tensors (what travels to and from a worker)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def model_from_state(config, state: dict):
    """The model of ``config`` (for its data set) with the weights ``state``, in evaluation mode."""
    model = config.build()
    model.load_state_dict(state)
    model.eval()
    return model


def _worker_model(config: dict, state: dict, device: str | None = None):
    """On the worker: the model of the configuration ``config`` (a ``TrainConfig`` dict) with the weights ``state``."""
    from explainer.learning.train import TrainConfig, pick_device

    model = model_from_state(TrainConfig.from_dict(config), state)
    return model.to(pick_device(device)) if device else model


def _test_set(config: dict | None):
    """On the worker: the test images and labels of the data set ``config`` names (the worker's own copy)."""
    from explainer.engine.worker import dataset_of, worker_data

    _, _, x_test, y_test = worker_data(dataset_of(config))
    return x_test, y_test


def shipped(config, data):
    """What a job sends to the worker with its task: for a learner's own images, their arrays (``UserError`` when
    they are missing, don't match the configuration's spec or exceed ``limits.OWN_SHIPPED_BYTES``); else None."""
    import numpy as np

    from explainer.data import datasets

    if getattr(config, "dataset", None) != datasets.OWN:
        return None
    if data is None or len(data) != 4:
        raise UserError("errors.zip.own_gone")
    arrays = tuple(np.array(a, order="C") for a in data)  # writable copies (torch wants them)
    size = sum(a.nbytes for a in arrays)
    if size > limits.OWN_SHIPPED_BYTES:
        raise UserError("errors.zip.shipped_too_big", mb=limits.mb(size), max=limits.mb(limits.OWN_SHIPPED_BYTES))
    return arrays



# ====================================================================== the kinds
class TrainingJob(Job):
    """Train ``config`` on the engine. A built-in data set (MNIST, Fashion-MNIST) is read by the worker itself and
    ``data`` is ignored; a learner's own images (``config.dataset == datasets.OWN``) are shipped with the task, once:
    ``data`` is their ``(x_train, y_train, x_test, y_test)`` (at most ``limits.OWN_SHIPPED_BYTES``)."""

    kind = "train"
    begins_itself = True  # from its checkpoint's step, with its curve

    def __init__(self, config, data=None, *, owner: str | None = None, engine_: Engine | None = None,
                 heartbeat_timeout: float | None = None, visitor: str | None = None, resume_from: str | None = None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout, visitor=visitor)
        self.config = config
        self.resume_from = resume_from  # the key of a lost training of the same config: go on from its checkpoint
        self.data = shipped(config, data)

    def estimate(self, eng: Engine) -> float:
        return eng.estimate_training(self.config)

    def task_args(self) -> tuple:
        return self.config.to_dict(), self.resume_from, self.data

    @staticmethod
    def work(link: Link, config: dict, resume_from: str | None, data) -> dict:
        """Train, score the whole test set, return weights and the evaluation (plain data). A rerun of this task (its
        worker died) or a Retry (``resume_from``: the lost job's key) goes on from the last checkpoint, and says so."""
        from explainer.engine.worker import worker_data
        from explainer.learning.train import TrainConfig, train

        cfg = TrainConfig.from_dict(config)
        prune_checkpoints()
        state = None
        for source in ([link.key] if link.attempt > 1 else []) + ([resume_from] if resume_from else []):
            state = load_resume(source, cfg)
            if state is not None:
                break
        again = link.attempt > 1 or resume_from is not None
        link.begin(int(state["step"]) if state is not None else (0 if again else None),
                   state["history"] if state is not None else ())
        # Abandoned (nobody polls) goes through: its checkpoint stays a while, a page that lost its engine may Retry
        res = train(cfg, data if data is not None else worker_data(cfg.dataset), on_progress=link.progress,
                    should_stop=link.should_stop, progress_every=0.5,
                    checkpoint=lambda st: save_resume(link.key, st), resume=state)
        return {"state_dict": state_of(res.model), "history": res.history, "test_accuracy": res.test_accuracy,
                "train_seconds": res.train_seconds, "images_per_second": res.images_per_second,
                "epochs_done": res.epochs_done, "device": res.device, "config": cfg.to_dict(), "stopped": res.stopped,
                "predictions": res.predictions, "probabilities": res.probabilities}

    def make_result(self, value: dict):
        from explainer.learning.train import TrainConfig, TrainResult

        config = TrainConfig.from_dict(value["config"])
        model = model_from_state(config, value["state_dict"])
        if self._engine is not None and not value["stopped"]:
            self._engine.learn_rate(config.model, value["images_per_second"])
        return TrainResult(model=model, history=value["history"], test_accuracy=value["test_accuracy"],
                           train_seconds=value["train_seconds"], images_per_second=value["images_per_second"],
                           epochs_done=value["epochs_done"], device=value["device"], config=config,
                           stopped=value["stopped"], predictions=value["predictions"],
                           probabilities=value["probabilities"])

    @classmethod
    def interrupted(cls, key: str, config, data=None, *, owner: str | None = None, visitor: str | None = None,
                    engine_: Engine | None = None) -> tuple["TrainingJob", "JobView"]:
        """The training ``key`` (of ``config``) that a page lost with the server it ran from (a web replica that died,
        a reload): a ``"lost"`` job whose ``retry()`` goes on from its checkpoint, and its view (how far the
        checkpoint got; not resumable when there is none of ``config``). Nothing is started or asked of the engine."""
        job = cls(config, data, owner=owner, visitor=visitor, engine_=engine_)
        job.key, job._state = training_key(key), "lost"
        saved = load_resume(job.key, config)
        history = [dict(h) for h in saved.get("history", ())] if saved is not None else []
        latest = dict(history[-1]) if history else {}
        if saved is not None and "total_steps" in latest:
            latest["step"] = int(saved.get("step", latest.get("step", 0)))
        job._history, job._latest = history, latest
        return job, JobView("lost", list(history), dict(latest), resumable=saved is not None)

    def _checkpoint(self) -> str | None:
        """The key whose checkpoint a retry goes on from: this job's own, else the one it went on from."""
        for key in (self.key, self.resume_from):
            path = checkpoint_path(key)
            if path is not None and path.is_file():
                return key
        return None

    def resumable(self) -> bool:
        return self._checkpoint() is not None

    def retry(self) -> "TrainingJob":
        """A new training of the same settings, going on from this one's checkpoint only when that checkpoint is of
        these settings (else from the start: its checkpoint, another training's, is left alone — ``on_end`` drops
        the one it went on from)."""
        new = super().retry()
        key = self._checkpoint()
        new.resume_from = key if key is not None and load_resume(key, self.config) is not None else None
        return new

    def on_end(self) -> None:
        if self.state != "lost":  # kept for a Retry only when lost (else pruned after limits.RESUME_KEEP_SECONDS)
            drop_checkpoint(self.key)
            drop_checkpoint(self.resume_from)


class LandscapeJob(Job):
    """``optim.loss_landscape`` of a trained model on the first ``LANDSCAPE_DIGITS`` test digits."""

    kind = "landscape"

    def __init__(self, model, config=None, *, steps: int = LANDSCAPE_STEPS, digits: int = LANDSCAPE_DIGITS,
                 owner: str | None = None, engine_: Engine | None = None, heartbeat_timeout: float | None = None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        # with its TrainConfig only the weights travel; without one (a model from elsewhere), a CPU copy of the module
        self.config = config
        self.state_dict = state_of(model) if config is not None else copy.deepcopy(model).cpu()
        self.steps, self.digits = int(steps), int(digits)

    def estimate(self, eng: Engine) -> float:
        return 2.0 + self.steps ** 2 * self.digits / 4000.0

    def task_args(self) -> tuple:
        config = self.config.to_dict() if self.config is not None else None
        return config, self.state_dict, self.steps, self.digits

    @staticmethod
    def work(link: Link, config: dict | None, state, steps: int, digits: int) -> dict:
        """The loss landscape around the weights ``state`` (a state_dict of ``config``'s model, or, with ``config``
        None, the model itself). A Stop ends it without a result."""
        import torch

        from explainer.learning.optim import loss_landscape
        from explainer.learning.train import pick_device, to_tensor

        device = pick_device("auto")
        model = (_worker_model(config, state) if config is not None else state).to(device)
        x_test, y_test = _test_set(config)
        x, y = to_tensor(x_test[:digits], device), torch.as_tensor(y_test[:digits], device=device)
        return loss_landscape(model, x, y, steps=steps, span=1.0, progress=lambda f: link.fraction(f, eta=0.0))


class EvaluationJob(Job):
    """Score a model on the 10,000 test digits (``train.evaluate``'s dict), e.g. uploaded weights."""

    kind = "evaluate"

    def __init__(self, model, config, *, owner: str | None = None, engine_: Engine | None = None,
                 heartbeat_timeout: float | None = None, data=None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        self.state_dict, self.config = state_of(model), config
        # own images: their test pictures go with the task (``shipped``); a built-in set is the worker's own
        self.data = shipped(config, data)

    def estimate(self, eng: Engine) -> float:
        return 3.0

    def task_args(self) -> tuple:
        return self.config.to_dict(), self.state_dict, self.data

    @staticmethod
    def work(link: Link, config: dict, state: dict, data) -> dict:
        """Loss, accuracy, predictions and probabilities on the test set (or a learner's own test pictures, ``data``)."""
        from explainer.learning.train import evaluate

        model = _worker_model(config, state, "auto")
        x_test, y_test = (data[2], data[3]) if data is not None else _test_set(config)
        return evaluate(model, x_test, y_test)


class ShiftJob(Job):
    """Accuracy of a trained model on the first ``digits`` test pictures moved by 0…6 pixels
    (``shift.shifted_accuracy``): the "How kernels learn" lesson's conv-vs-dense experiment. A built-in data set is
    the worker's own copy; a learner's own images go with the task (``data``: their four arrays, ``shipped``)."""

    kind = "shift"

    def __init__(self, model, config, *, digits: int = 2000, owner: str | None = None,
                 engine_: Engine | None = None, heartbeat_timeout: float | None = None, data=None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        self.state_dict, self.config, self.digits = state_of(model), config, int(digits)
        self.data = shipped(config, data)

    def estimate(self, eng: Engine) -> float:
        return 2.0 + self.digits / 400.0

    def task_args(self) -> tuple:
        return self.config.to_dict(), self.state_dict, self.digits, self.data

    @staticmethod
    def work(link: Link, config: dict, state: dict, digits: int, data=None) -> list[float]:
        """Accuracy on the first ``digits`` test pictures shifted by each of ``shift.SHIFTS`` pixels."""
        from explainer.learning.shift import shifted_accuracy

        model = _worker_model(config, state, "auto")
        x_test, y_test = (data[2], data[3]) if data is not None else _test_set(config)
        return shifted_accuracy(model, x_test[:digits], y_test[:digits])


class TopPatchesJob(Job):
    """``network.top_patches`` of entry ``layer`` over the 10,000 test digits: for every channel the 9 places where it
    is strongest, their values and receptive-field patches (the "Inside the network" lesson; cached per model). A
    built-in data set's test set is the worker's own copy; a learner's own test pictures go with the task (``data``:
    their four arrays, ``shipped``, of which the worker reads the test pictures)."""

    kind = "patches"

    def __init__(self, model, config, layer: int, *, owner: str | None = None, engine_: Engine | None = None,
                 heartbeat_timeout: float | None = None, data=None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        self.state_dict, self.config, self.layer = state_of(model), config, int(layer)
        self.data = shipped(config, data)

    def estimate(self, eng: Engine) -> float:
        return 4.0

    def task_args(self) -> tuple:
        return self.config.to_dict(), self.state_dict, self.layer, self.data

    @staticmethod
    def work(link: Link, config: dict, state: dict, layer: int, data=None) -> dict:
        from explainer.learning.network import top_patches

        x_test = data[2] if data is not None else _test_set(config)[0]
        return top_patches(_worker_model(config, state), x_test, layer, progress=link.fraction)


class OptimiseInputJob(Job):
    """``network.optimise_input``: an input that makes ``channel`` of entry ``layer`` strong (gradient ascent)."""

    kind = "optimise"

    def __init__(self, model, config, layer: int, channel: int, *, steps: int | None = None,
                 owner: str | None = None, engine_: Engine | None = None, heartbeat_timeout: float | None = None):
        super().__init__(owner=owner, engine_=engine_, heartbeat_timeout=heartbeat_timeout)
        from explainer.learning.network import OPTIMISE_STEPS

        self.state_dict, self.config = state_of(model), config
        self.layer, self.channel, self.steps = int(layer), int(channel), int(steps or OPTIMISE_STEPS)

    def estimate(self, eng: Engine) -> float:
        return 2.0

    def task_args(self) -> tuple:
        return self.config.to_dict(), self.state_dict, self.layer, self.channel, self.steps

    @staticmethod
    def work(link: Link, config: dict, state: dict, layer: int, channel: int, steps: int) -> dict:
        from explainer.learning.network import optimise_input
        from explainer.learning.train import TrainConfig

        shape = TrainConfig.from_dict(config).data_set().shape  # (1, 28, 28), or (3, 32, 32) for colour pictures
        return optimise_input(_worker_model(config, state), layer, channel, steps=steps, progress=link.fraction,
                              shape=shape)
