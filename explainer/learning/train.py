"""Training on MNIST: one loop shared by the engine's workers (``explainer.engine.jobs``, for the Train page) and
the command line (in-process).

    python -m explainer.learning.train --model fast --epochs 2 --json

The whole data set is kept as one float tensor (pixels / 255) and mini-batches are drawn by
indexing a random permutation — no DataLoader, no per-sample Python work.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import io
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from explainer import limits
from explainer.data import datasets
from explainer.learning import optimizers
from explainer.errors import UserError
from explainer.learning.models import (MNIST_MEAN, MNIST_STD, MODEL_NAMES, build_model, evaluating, layer_code,
                                       bfloat16_model, prefers_bfloat16,
                                       prefers_channels_last)

OPTIMIZERS = optimizers.TRAIN_NAMES  # the optimizers offered for training (explainer.learning.optimizers has the table)
DEFAULT_LR = {name: optimizers.OPTIMIZERS[name].train_lr for name in OPTIMIZERS}
CHECKPOINT_FORMAT = "convolution-explainer/1"


def _epochs(value) -> int | float:
    """Epochs as a whole number when whole (2.0 → 2), else a fraction to two decimals (2.5); ``ValueError`` for
    anything else (a bool, text that is no number, NaN, infinity)."""
    if isinstance(value, bool):
        raise ValueError(value)
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(value)
    return int(v) if v.is_integer() else round(v, 2)


@dataclass
class TrainConfig:
    model: str = "fast"
    model_options: dict = field(default_factory=dict)
    optimizer: str = "adam"
    lr: float | None = None  # None: DEFAULT_LR[optimizer]
    one_cycle: bool = True
    batch_size: int = 128
    epochs: int | float = 1  # a fraction ends the last epoch early (2.5: two epochs and half of a third)
    train_size: int = limits.TRAIN_SIZE_MAX
    augment: bool = False  # random shifts of up to ±2 pixels
    seed: int = 0
    device: str = "auto"
    evals_per_epoch: int = 4
    eval_size: int = 2000  # test digits used for the curves during training (the final score uses all)
    dataset: str = datasets.DEFAULT  # a key of explainer.data.datasets.DATASETS, or datasets.OWN
    own: dict | None = None  # for datasets.OWN: its spec (hash, mode, class names, normalisation; never the pictures)

    def data_set(self) -> datasets.Dataset:
        return datasets.from_spec(self.own) if self.dataset == datasets.OWN else datasets.get(self.dataset)

    def build(self) -> nn.Module:
        """A fresh model for this configuration: its first layer fits the data set's channels, its last its classes."""
        return build_model(self.model, **self.data_set().model_kwargs(), **self.model_options)

    def __post_init__(self):
        for name, kind in (("batch_size", int), ("epochs", _epochs), ("train_size", int), ("seed", int),
                           ("evals_per_epoch", int), ("eval_size", int)):
            try:
                setattr(self, name, kind(getattr(self, name)))
            except (TypeError, ValueError):
                raise UserError("errors.not_number" if kind is _epochs else "errors.not_whole", param=name,
                                value=getattr(self, name)) from None
        if self.lr is not None:
            try:
                self.lr = float(self.lr)
            except (TypeError, ValueError):
                raise UserError("errors.not_number", param="learning_rate", value=self.lr) from None
        self.one_cycle, self.augment = bool(self.one_cycle), bool(self.augment)
        if not isinstance(self.model_options, dict):
            raise UserError("errors.not_mapping", param="model_options", value=self.model_options)
        if not isinstance(self.dataset, str) or self.dataset not in datasets.CHOICES:
            raise UserError("errors.not_one_of", param="dataset", choices=" / ".join(datasets.CHOICES),
                            value=str(self.dataset)[:40])
        if self.dataset == datasets.OWN:
            datasets.check_spec(self.own)
        elif self.own is not None:
            raise UserError("errors.zip.own_spec")
        if self.model not in MODEL_NAMES:
            raise UserError("errors.not_one_of", param="model", choices=" / ".join(MODEL_NAMES), value=self.model)
        if self.optimizer not in OPTIMIZERS:
            raise UserError("errors.not_one_of", param="optimizer", choices=" / ".join(OPTIMIZERS),
                            value=self.optimizer)
        if self.lr is not None and not (0 < self.lr < limits.TRAIN_LR_MAX):
            raise UserError("errors.out_of_range", param="learning_rate", lo=0, hi=f"{limits.TRAIN_LR_MAX:g}",
                            value=self.lr)
        if not 0 <= self.seed <= limits.SEED_MAX:
            raise UserError("errors.seed_range", value=str(self.seed)[:40], max=limits.SEED_MAX)
        for name, lo, hi in (("batch_size", 1, limits.BATCH_SIZE_MAX), ("epochs", 1, limits.EPOCHS_CLI),
                             ("train_size", limits.TRAIN_SIZE_MIN, limits.TRAIN_SIZE_MAX),
                             ("evals_per_epoch", 1, EVALS_PER_EPOCH_MAX), ("eval_size", 1, EVAL_SIZE_MAX)):
            if not lo <= getattr(self, name) <= hi:
                raise UserError("errors.out_of_range", param=name, lo=lo, hi=hi, value=getattr(self, name))
        with torch.random.fork_rng(devices=[]):  # building initialises weights: leave the global generator alone
            self.build()  # unknown or out-of-range options: UserError now, not mid-run

    @property
    def learning_rate(self) -> float:
        return float(self.lr) if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict]
    test_accuracy: float
    train_seconds: float
    images_per_second: float
    epochs_done: float
    device: str
    config: TrainConfig
    stopped: bool
    predictions: np.ndarray | None = None  # of the whole test set, from the final evaluation
    probabilities: np.ndarray | None = None  # (N, 10) float32


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    return optimizers.build(config.optimizer, params, config.learning_rate)


def to_tensor(x_uint8: np.ndarray, device=None) -> torch.Tensor:
    """uint8 (N, 28, 28) → float (N, 1, 28, 28) in [0, 1]; colour (N, H, W, C) → (N, C, H, W)."""
    x = torch.from_numpy(np.array(x_uint8, dtype=np.uint8)).to(device).float().div_(255.0)
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()


def _shift(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts of up to ±2 pixels (one shift per batch row, zero fill)."""
    n, c, h, w = xb.shape
    padded = nn.functional.pad(xb, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (n,), generator=gen)
    dx = torch.randint(0, 5, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :]).to(xb.device)  # (n, h)
    cols = (dx[:, None] + torch.arange(w)[None, :]).to(xb.device)
    idx_n = torch.arange(n, device=xb.device)[:, None, None]
    if c == 1:
        return padded[idx_n, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)
    return padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


@torch.inference_mode()
def _evaluate_tensors(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 2000):
    with evaluating(model):
        logits = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    loss = nn.functional.cross_entropy(logits, y).item()
    pred = logits.argmax(1)
    return loss, (pred == y).float().mean().item(), logits


def evaluate(model: nn.Module, x_uint8: np.ndarray, y: np.ndarray) -> dict:
    """Loss, accuracy, predictions and class probabilities of ``model`` on uint8 images."""
    device = next(model.parameters()).device
    x = to_tensor(x_uint8, device)
    yt = torch.as_tensor(np.asarray(y), device=device)
    loss, acc, logits = _evaluate_tensors(model, x, yt)
    probs = torch.softmax(logits, 1)
    return {"loss": loss, "accuracy": acc, "predictions": logits.argmax(1).cpu().numpy().astype(np.int64),
            "probabilities": probs.cpu().numpy().astype(np.float32)}


def estimate_seconds(epochs: int, train_size: int, images_per_second: float) -> float:
    """Seconds a training of ``epochs`` over ``train_size`` digits (at most MNIST's 60,000) takes at a measured speed."""
    return epochs * min(train_size, limits.TRAIN_SIZE_MAX) / images_per_second


@torch.inference_mode()
def predict_proba(model: nn.Module, x28) -> np.ndarray:
    """Class probabilities (classes,) for one image: float in [0, 1], (28, 28) (or (H, W, C) for colour)."""
    x = torch.as_tensor(np.asarray(x28, dtype=np.float32))
    x = x.permute(2, 0, 1)[None] if x.dim() == 3 and x.shape[2] == 3 else x.reshape(1, 1, *x.shape[-2:])
    with evaluating(model):
        return torch.softmax(model(x.to(next(model.parameters()).device)), 1)[0].cpu().numpy()


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(config: TrainConfig, data, *, on_progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None, progress_every: float = 0.25,
          checkpoint: Callable[[dict], None] | None = None, resume: dict | None = None) -> TrainResult:
    """Train ``config.model`` on ``data`` = ``load_mnist()``'s tuple; evaluate on ``config.eval_size``
    test digits a few times per epoch (and on the whole test set at the end). ``on_progress(dict)`` is called at most every ``progress_every`` seconds and at
    every evaluation; ``should_stop()`` is polled every batch and ends training early, keeping what
    was learned. Timing counts training only (evaluation time is excluded).

    ``checkpoint(state)`` is called at every evaluation point before the last with everything needed to go on
    (``_Run.state``: weights, optimizer, schedule, random generators, this epoch's order, curves, clocks);
    ``train(config, data, resume=state)`` continues from there and ends with the same weights and curves as a
    run that was never interrupted (CPU; a worker lost mid-training resumes this way, ``explainer.engine.jobs``).

    Process settings are left alone: the seed drives a local generator (data order, shifts) and, inside
    ``torch.random.fork_rng``, the weight initialisation and dropout, whose global state is restored on
    return; the number of threads is the caller's (a Dask worker sets it once per process)."""
    device = pick_device(config.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        return _train(config, data, device, on_progress, should_stop, progress_every, checkpoint, resume)


def _train(config: TrainConfig, data, device: torch.device, on_progress, should_stop,
           progress_every: float, checkpoint=None, resume: dict | None = None) -> TrainResult:
    """The training loop, read as tensorflow/playground's ``oneStep()``: a step is forward, backward,
    update, loss (``_Run.one_step``); then, when due, the test accuracy and the UI (``report``)."""
    gen = torch.Generator().manual_seed(config.seed)
    run = _Run(config, data, device, gen)
    run.checkpoint = checkpoint
    first_epoch = run.load_state(resume) if resume is not None else 0
    for epoch in range(first_epoch, math.ceil(config.epochs)):  # a fraction: the last epoch ends at run.total
        for xb, yb in run.batches(epoch):
            if should_stop is not None and should_stop():
                run.stopped = True
                break
            run.one_step(xb, yb)                   # forward, backward, update, loss
            run.report(progress_every, on_progress)  # test accuracy at the evaluation points; the UI
        if run.stopped:
            break
    return run.finish()


class _Run:
    """One training run's state: the data on the device, the model, its optimizer and the running sums."""

    def __init__(self, config: TrainConfig, data, device: torch.device, gen: torch.Generator):
        x_train, y_train, x_test, y_test = data
        self.config, self.device, self.gen = config, device, gen
        self.n = min(int(config.train_size), len(x_train))
        keep = np.sort(torch.randperm(len(x_train), generator=gen)[:self.n].numpy())
        self.X, self.Y = to_tensor(x_train[keep], device), torch.as_tensor(y_train[keep], device=device)
        self.Xte, self.Yte = to_tensor(x_test, device), torch.as_tensor(y_test, device=device)
        n_eval = min(len(self.Xte), max(100, int(config.eval_size)))
        self.Xev, self.Yev = self.Xte[:n_eval], self.Yte[:n_eval]  # the first test digits: a fixed sample

        self.model = config.build().to(device)
        if prefers_channels_last(self.model):  # handed back in the ordinary layout by finish()
            self.model.to(memory_format=torch.channels_last)
        self.opt = _optimizer(config, self.model.parameters())
        self.bf16 = prefers_bfloat16(self.model, device)  # forward and loss in bfloat16 (the weights stay float32)
        self.bs = min(int(config.batch_size), self.n)
        self.steps_per_epoch = max(1, self.n // self.bs)
        self.total = max(1, round(self.steps_per_epoch * config.epochs))  # 2.5 epochs: 2½ epochs' steps
        # one-cycle needs a few steps per phase (fewer: OneCycleLR divides by zero); tiny runs keep a constant rate
        self.sched = (torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=config.learning_rate, total_steps=self.total,
                                                          pct_start=0.25) if config.one_cycle and self.total >= 8 else None)
        self.eval_every = max(1, self.steps_per_epoch // max(1, int(config.evals_per_epoch)))
        self.history: list[dict] = []
        self.train_seconds, self.seen, self.step, self.epoch, self.stopped = 0.0, 0, 0, 0, False
        # running sums stay on the device: no host synchronisation per step, only when a report is due
        self.run_loss = torch.zeros((), device=device)
        self.run_correct = torch.zeros((), device=device, dtype=torch.long)
        self.run_count = 0
        self.last_report = self.segment_start = time.perf_counter()
        self.checkpoint = None  # called with state() at evaluation points
        self.perm, self.next_batch = None, 0  # this epoch's order; the batch after the last one taken
        self.model.train()

    def batches(self, epoch: int):
        """This epoch's mini-batches, in a fresh random order (a resumed epoch: its saved order, from where it was)."""
        self.epoch = epoch
        if self.perm is None:
            self.perm, self.next_batch = torch.randperm(self.n, generator=self.gen), 0
        perm = self.perm.to(self.device)
        while self.next_batch < self.steps_per_epoch and self.step < self.total:
            i = self.next_batch
            self.next_batch += 1
            idx = perm[i * self.bs:(i + 1) * self.bs]
            yield self.X[idx], self.Y[idx]
        self.perm = None

    def state(self) -> dict:
        """Everything needed to go on from here (at an evaluation point: the running sums are zero), as CPU tensors
        and plain values (``torch.save``-able, ``weights_only`` loadable)."""
        cpu = lambda d: {k: v.detach().cpu().clone() for k, v in d.items()}  # noqa: E731
        return {"format": 1, "config": self.config.to_dict(), "step": self.step, "epoch": self.epoch,
                "next_batch": self.next_batch, "perm": self.perm.clone() if self.perm is not None else None,
                "gen": self.gen.get_state(), "torch_rng": torch.get_rng_state(), "model": cpu(self.model.state_dict()),
                "opt": copy.deepcopy(self.opt.state_dict()), "sched": self.sched.state_dict() if self.sched else None,
                "history": [dict(h) for h in self.history], "train_seconds": self.train_seconds, "seen": self.seen}

    def load_state(self, st: dict) -> int:
        """Continue from ``state()``'s dict (of this configuration); returns the epoch to go on with."""
        if st.get("format") != 1 or TrainConfig.from_dict(st["config"]) != self.config:
            raise ValueError("the checkpoint belongs to another training")
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["opt"])
        if self.sched is not None and st.get("sched") is not None:
            self.sched.load_state_dict(st["sched"])
        self.gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        self.step, self.seen, self.train_seconds = int(st["step"]), int(st["seen"]), float(st["train_seconds"])
        self.history = [dict(h) for h in st["history"]]
        self.epoch = int(st["epoch"])
        if st.get("perm") is not None and int(st["next_batch"]) < self.steps_per_epoch:
            self.perm, self.next_batch = st["perm"], int(st["next_batch"])
            return self.epoch
        return self.epoch + 1

    def one_step(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        if self.config.augment:
            xb = _shift(xb, self.gen)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.model(xb)                       # forward
            loss = nn.functional.cross_entropy(logits, yb)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()                                   # backward
        self.opt.step()                                   # update
        if self.sched is not None:
            self.sched.step()
        self.step += 1                                    # loss and accuracy, summed on the device
        self.seen += len(yb)
        self.run_loss += loss.detach() * len(yb)
        self.run_correct += (logits.detach().argmax(1) == yb).sum()
        self.run_count += len(yb)

    def report(self, progress_every: float, on_progress) -> None:
        """At an evaluation point (or every ``progress_every`` s): a progress record to ``on_progress``."""
        evaluate_now = self.step % self.eval_every == 0 or self.step == self.total
        if not evaluate_now and time.perf_counter() - self.last_report < progress_every:
            return
        self._stop_clock()
        rec = self._record(eta=(self.total - self.step) * self.train_seconds / self.step)
        if evaluate_now:
            rec["test_loss"], rec["test_acc"], _ = _evaluate_tensors(self.model, self.Xev, self.Yev)
            self.run_loss.zero_()
            self.run_correct.zero_()
            self.run_count = 0
            self.history.append(rec)
            if self.checkpoint is not None and self.step < self.total:
                self.checkpoint(self.state())
        if on_progress is not None:
            on_progress(rec)
        self.last_report = self.segment_start = time.perf_counter()  # evaluation and reporting are not training time

    def finish(self) -> TrainResult:
        """Score the whole test set; the last point of the curve; the model back on the CPU."""
        self._stop_clock()
        test_loss, test_acc, logits = _evaluate_tensors(self.model, self.Xte, self.Yte)
        probs = torch.softmax(logits.float(), 1)
        if self.history and self.history[-1]["step"] == self.step:  # the last point of the curve: the whole test set
            self.history[-1].update(test_loss=test_loss, test_acc=test_acc)
        else:
            self.history.append({**self._record(eta=0.0), "test_loss": test_loss, "test_acc": test_acc})
        self.model.eval()
        self.model.to(memory_format=torch.contiguous_format)
        per_second = self.seen / max(self.train_seconds, 1e-9)
        return TrainResult(model=self.model.cpu(), history=self.history, test_accuracy=test_acc,
                           train_seconds=self.train_seconds, images_per_second=per_second,
                           epochs_done=self.step / self.steps_per_epoch, device=str(self.device), config=self.config,
                           stopped=self.stopped, predictions=probs.argmax(1).cpu().numpy().astype(np.int64),
                           probabilities=probs.cpu().numpy().astype(np.float32))

    def _stop_clock(self) -> None:
        _synchronize(self.device)
        self.train_seconds += time.perf_counter() - self.segment_start

    def _running(self) -> tuple[float, float]:
        if self.run_count:
            return self.run_loss.item() / self.run_count, self.run_correct.item() / self.run_count
        if self.history:
            return self.history[-1]["train_loss"], self.history[-1]["train_acc"]
        return float("nan"), float("nan")

    def _record(self, eta: float) -> dict:
        train_loss, train_acc = self._running()
        return {"epoch": self.epoch, "step": self.step, "total_steps": self.total, "seen": self.seen,
                "epochs_done": self.step / self.steps_per_epoch, "elapsed": self.train_seconds,
                "images_per_second": self.seen / max(self.train_seconds, 1e-9), "eta_seconds": eta,
                "train_loss": train_loss, "train_acc": train_acc, "lr": self.opt.param_groups[0]["lr"]}


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(model: nn.Module, config: TrainConfig) -> bytes:
    """The trained weights and the configuration, as bytes for a download (torch.save of tensors only)."""
    buf = io.BytesIO()
    settings = config.to_dict()
    settings["device"] = str(settings["device"]).split(":")[0]  # "cuda:1" → "cuda": the index is this machine's
    torch.save({"format": CHECKPOINT_FORMAT, "config": json.dumps(settings),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, buf)
    return buf.getvalue()


_PICKLE_BYTES = 1024 * 1024  # the archive's data.pkl (a checkpoint's is about 2 kB)
_CONFIG_CHARS = 10_000  # the JSON configuration inside a checkpoint


def check_checkpoint_archive(data: bytes) -> None:
    """Refuse a ``.pt`` file before ``torch.load`` allocates anything for it.

    ``torch.save`` writes an uncompressed zip archive: every entry stored, so what it holds is never
    larger than the file. A compressed entry (how a small file can hold a huge tensor), too many
    entries, declared sizes adding up to more than ``limits.CHECKPOINT_UNPACKED_BYTES`` or an
    oversized pickle raise ``UserError`` here, from the archive's directory alone."""
    import zipfile

    if len(data) > limits.CHECKPOINT_BYTES:
        raise UserError("errors.checkpoint_too_big", mb=limits.mb(limits.CHECKPOINT_BYTES))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            entries = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UserError("errors.checkpoint_bad", detail=str(exc)[:160] or type(exc).__name__) from None
    if len(entries) > limits.CHECKPOINT_ENTRIES:
        raise UserError("errors.checkpoint_archive", n=len(entries), max=limits.CHECKPOINT_ENTRIES)
    total = 0
    for e in entries:
        if e.compress_type != zipfile.ZIP_STORED or e.file_size != e.compress_size:
            raise UserError("errors.checkpoint_packed", name=e.filename[:80])
        if e.filename.endswith("data.pkl") and e.file_size > _PICKLE_BYTES:
            raise UserError("errors.checkpoint_too_big", mb=limits.mb(limits.CHECKPOINT_BYTES))
        total += e.file_size
    if total > min(limits.CHECKPOINT_UNPACKED_BYTES, len(data)):
        raise UserError("errors.checkpoint_too_big", mb=limits.mb(limits.CHECKPOINT_BYTES))


# What a checkpoint's settings may hold, checked like a URL value (``ui.state.Param``): each ``TrainConfig`` field by
# its exact JSON type, within the limits of ``explainer/limits.py`` (the command line's, which hold the Train page's:
# tests/test_checkpoint_config.py ties the page's declared settings to these); any other key is refused.
# ``(kind, lo, hi)`` for numbers, ``(kind, options)`` for choices; ``None`` allowed where the kind ends in "?".
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")  # what a saved config names (the index of a GPU is not kept)
EVALS_PER_EPOCH_MAX = 100
EVAL_SIZE_MAX = 10_000  # MNIST's test set
CONFIG_FIELDS = {
    "model": ("choice", MODEL_NAMES), "model_options": ("options",), "optimizer": ("choice", tuple(OPTIMIZERS)),
    "lr": ("float?", 0.0, limits.TRAIN_LR_MAX), "one_cycle": ("bool",),
    "batch_size": ("int", 1, limits.BATCH_SIZE_MAX), "epochs": ("float", 1, limits.EPOCHS_CLI),
    "train_size": ("int", limits.TRAIN_SIZE_MIN, limits.TRAIN_SIZE_MAX), "augment": ("bool",),
    "seed": ("int", 0, limits.SEED_MAX), "device": ("choice", DEVICE_NAMES),
    "evals_per_epoch": ("int", 1, EVALS_PER_EPOCH_MAX), "eval_size": ("int", 1, EVAL_SIZE_MAX),
    "dataset": ("choice", datasets.CHOICES), "own": ("own",),
}
# the custom model's options (``explainer.learning.models._custom``; its ranges are checked by the builder)
OPTION_KINDS = {"blocks": "int", "channels": "int", "kernel_size": "int", "pool": "str", "dropout": "float",
                "batchnorm": "bool"}


def _typed(kind: str, value) -> bool:
    """``value`` has the JSON type ``kind`` (a bool is not a number; a float is not a whole number)."""
    if kind.endswith("?") and value is None:
        return True
    kind = kind.rstrip("?")
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _shown(value) -> str:
    return json.dumps(value)[: limits.SHOWN_VALUE_CHARS] if not isinstance(value, str) else value[: limits.SHOWN_VALUE_CHARS]


def check_config_dict(d: dict) -> dict:
    """A checkpoint's settings, checked field by field against ``CONFIG_FIELDS`` (``UserError`` otherwise)."""
    for name, value in d.items():
        spec = CONFIG_FIELDS.get(name) if isinstance(name, str) else None
        if spec is None:
            raise UserError("errors.checkpoint_setting", name=_shown(name), value=_shown(value))
        kind = spec[0]
        if kind == "choice":
            if not isinstance(value, str):
                raise UserError("errors.checkpoint_setting", name=name, value=_shown(value))
            if value not in spec[1]:
                raise UserError("errors.not_one_of", param=name, choices=" / ".join(spec[1]), value=_shown(value))
        elif kind == "own":
            if value is not None:
                datasets.check_spec(value)
        elif kind == "options":
            if not isinstance(value, dict):
                raise UserError("errors.not_mapping", param="model_options", value=_shown(value))
            for key, v in value.items():
                if key not in OPTION_KINDS or not _typed(OPTION_KINDS[key], v):
                    raise UserError("errors.checkpoint_setting", name=_shown(key), value=_shown(v))
        elif not _typed(kind, value):
            raise UserError("errors.checkpoint_setting", name=name, value=_shown(value))
        elif value is not None and kind != "bool":
            lo, hi = spec[1], spec[2]
            if name == "seed" and not lo <= value <= hi:
                raise UserError("errors.seed_range", value=_shown(value), max=hi)
            if name == "lr" and not (lo < value < hi):
                raise UserError("errors.out_of_range", param="learning_rate", lo=0, hi=f"{hi:g}", value=_shown(value))
            if not lo <= value <= hi:
                raise UserError("errors.out_of_range", param=name, lo=lo, hi=hi, value=_shown(value))
    return d


def _checkpoint_config(raw) -> TrainConfig:
    """The ``config`` entry of a checkpoint → ``TrainConfig``; anything but a JSON object of settings within
    ``CONFIG_FIELDS`` is refused."""
    if not isinstance(raw, str) or len(raw) > _CONFIG_CHARS:
        raise UserError("errors.checkpoint_config")
    try:
        d = json.loads(raw)
    except (ValueError, RecursionError):
        raise UserError("errors.checkpoint_config") from None
    if not isinstance(d, dict):
        raise UserError("errors.checkpoint_config")
    return TrainConfig.from_dict(check_config_dict(d))


def load_checkpoint(data: bytes) -> tuple[nn.Module, TrainConfig]:
    """Load a checkpoint made by ``save_checkpoint``. Never unpickles arbitrary objects
    (``weights_only=True``); the archive is checked before anything is allocated
    (``check_checkpoint_archive``), every tensor's shape is compared with the model's before loading,
    and non-finite weights are refused. A wrong, mismatched or malicious file raises ``UserError``."""
    if not data:
        raise UserError("errors.checkpoint_foreign")
    check_checkpoint_archive(data)
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 — any unreadable file is the same message to the user
        raise UserError("errors.checkpoint_bad", detail=str(exc).splitlines()[0][:160] if str(exc) else
                        type(exc).__name__) from None
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise UserError("errors.checkpoint_foreign")
    config = _checkpoint_config(obj.get("config"))
    state = obj.get("state_dict")
    try:
        model = config.build()
        expected = model.state_dict()
        if not isinstance(state, dict) or set(state) != set(expected):
            raise UserError("errors.checkpoint_mismatch", detail=config.model)
        for name, want in expected.items():
            got = state[name]
            if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(want.shape):
                got_shape = "×".join(map(str, getattr(got, "shape", ()))) or "?"
                raise UserError("errors.checkpoint_mismatch",
                                detail=f"{name[:80]}: {got_shape} ≠ {'×'.join(map(str, want.shape))}")
            if got.is_floating_point() and not bool(torch.isfinite(got).all()):
                raise UserError("errors.checkpoint_nonfinite", name=name[:80])
        model.load_state_dict(state)
    except UserError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError("errors.checkpoint_mismatch", detail=str(exc).splitlines()[0][:160]) from None
    model.eval()
    return model, config


# ---------------------------------------------------------------- export as code
# per data set: its name, where to put its files, the variable and the default folder the script reads
_EXPORT_SOURCE = {
    "mnist": ("MNIST", "Put the four MNIST .gz files in ./mnist (or set MNIST_DIR).", "MNIST_DIR", "mnist"),
    "fashion": ("Fashion-MNIST", "Its four .gz files: apt-get install dataset-fashion-mnist (Debian, Ubuntu), or put them "
                "in a folder and set FASHION_MNIST_DIR.", datasets.FASHION_ENV, str(datasets.FASHION_SYSTEM_DIR)),
}


def export_code(config: TrainConfig) -> str:
    """A short, runnable PyTorch script that builds the configured model and trains it like the app."""
    model = config.build()
    ds = config.data_set()
    body = ",\n        ".join(layer_code(m) for m in model)
    opt = optimizers.code(config.optimizer, config.learning_rate)
    layout = (".to(memory_format=torch.channels_last)  # NHWC convolutions: faster on a CPU"
              if prefers_channels_last(model) else "")
    sched = (f"torch.optim.lr_scheduler.OneCycleLR(opt, max_lr={config.learning_rate}, "
             f"total_steps=STEPS, pct_start=0.25)" if config.one_cycle else "None")
    loss = "loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])"
    if bfloat16_model(model):  # as the app trains it; where bfloat16 is emulated, float32 is faster
        loss = ("with torch.autocast(\"cpu\", dtype=torch.bfloat16, enabled=BF16):  # the weights stay float32\n"
                f"            {loss}")
        layout += ("\n# bfloat16 arithmetic where this CPU has native instructions for it (AVX512-BF16, AMX): faster\n"
                   "BF16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()")
    return _export_data(config) + f'''class Normalize(nn.Module):
    def __init__(self, mean=({MNIST_MEAN},), std=({MNIST_STD},)):
        super().__init__()
        self.mean, self.std = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)

    def forward(self, x):
        return (x - self.mean) / self.std

torch.manual_seed({config.seed})
model = nn.Sequential(
        {body},
){layout}
EPOCHS, BATCH = {config.epochs}, {config.batch_size}
STEPS = max(1, round(EPOCHS * max(1, len(x_train) // BATCH)))  # a fraction of an epoch: the last one ends early
opt = {opt}
sched = {sched}
step = 0
for epoch in range(math.ceil(EPOCHS)):
    model.train()
    perm = torch.randperm(len(x_train))
    for i in range(max(1, len(x_train) // BATCH)):  # a small set of your own: one (shorter) batch at least
        if step == STEPS:
            break
        step += 1
        idx = perm[i * BATCH:(i + 1) * BATCH]
        {loss}
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    print(f"epoch {{epoch + 1}}: test accuracy {{acc:.4f}}")
'''


OWN_EXPORT_FILE = "own_images.npz"  # the prepared pictures the Train page gives beside the script (``own_npz``)
OWN_EXPORT_ENV = "OWN_IMAGES"


def own_npz(ds) -> bytes:
    """A learner's own pictures as the app prepared them (an ``ownimages.OwnDataset``: resized, split, labelled) in
    one compressed ``.npz`` for the exported script: ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8 images,
    int64 labels), ``classes`` (the folders' names), ``sha256`` (of the uploaded zip) and ``mode``. Only ever given
    back to the learner who uploaded them."""
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=np.asarray(ds.train_x), y_train=np.asarray(ds.train_y),
                        x_test=np.asarray(ds.test_x), y_test=np.asarray(ds.test_y),
                        classes=np.array(list(ds.class_names), dtype=str), sha256=np.array(ds.sha256),
                        mode=np.array(ds.mode))
    return buf.getvalue()


def _export_own(config: TrainConfig) -> str:
    """The exported script's first part for your own images: it reads the prepared pictures (``own_npz``), checks
    they are the run's (the zip's hash) and names the classes (a JSON list: a Python literal of the names as typed)."""
    spec = config.own
    shape = "colour 32×32" if spec["mode"] == "colour32" else "grey 28×28"
    return f'''"""Train the "{config.model}" model on your own pictures ({len(spec["names"])} classes, {shape}) as Convolution
Explainer does. Needs: torch, numpy. Reads {OWN_EXPORT_FILE} (the Train page's "prepared pictures" download: your
pictures resized and split 80/20 as in the app) from this folder, or the file ${OWN_EXPORT_ENV} names."""
import math
import os
import numpy as np
import torch
from torch import nn

CLASSES = {json.dumps(list(spec["names"]))}
data = np.load(os.environ.get("{OWN_EXPORT_ENV}", "{OWN_EXPORT_FILE}"))
assert str(data["sha256"]) == "{spec["sha256"]}", "these are not the pictures this model was trained on"
assert list(data["classes"]) == CLASSES, "these pictures have other classes"

def pictures(x):  # uint8 (N, H, W) grey or (N, H, W, 3) colour -> float (N, C, H, W) in [0, 1]
    x = torch.tensor(x).float().div(255)
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()

x_train = pictures(data["x_train"][:{config.train_size}])
y_train = torch.tensor(data["y_train"][:{config.train_size}]).long()
x_test, y_test = pictures(data["x_test"]), torch.tensor(data["y_test"]).long()

'''


def _export_data(config: TrainConfig) -> str:
    """The exported script's first part: its imports and its reading of the data set's four files (your own images:
    the prepared pictures' file, ``_export_own``)."""
    if config.dataset == datasets.OWN:
        return _export_own(config)
    where = _EXPORT_SOURCE[config.dataset]
    return f'''"""Train the "{config.model}" model on {where[0]} as Convolution Explainer does. Needs: torch, numpy.
{where[1]}"""
import gzip, math, os, struct
import numpy as np
import torch
from torch import nn

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = struct.unpack(f">{{ndim}}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)

root = os.environ.get("{where[2]}", "{where[3]}")
x_train = torch.tensor(read_idx(f"{{root}}/train-images-idx3-ubyte.gz")[:{config.train_size}]).float().div(255).unsqueeze(1)
y_train = torch.tensor(read_idx(f"{{root}}/train-labels-idx1-ubyte.gz")[:{config.train_size}]).long()
x_test = torch.tensor(read_idx(f"{{root}}/t10k-images-idx3-ubyte.gz")).float().div(255).unsqueeze(1)
y_test = torch.tensor(read_idx(f"{{root}}/t10k-labels-idx1-ubyte.gz")).long()

'''


# ---------------------------------------------------------------- command line
def check_device(name: str) -> torch.device:
    """``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` … → a device this machine has; ``UserError`` otherwise."""
    if name == "auto":
        return pick_device(name)
    try:
        device = torch.device(str(name)[:40])
    except (RuntimeError, ValueError, TypeError):
        raise UserError("errors.bad_device", value=str(name)[:40]) from None
    if device.type == "cuda":
        ok = torch.cuda.is_available() and (device.index is None or device.index < torch.cuda.device_count())
    elif device.type == "mps":
        ok = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    else:
        ok = device.type == "cpu"
    if not ok:
        raise UserError("errors.device_unavailable", value=str(name)[:40])
    return device


def check_seed(seed: int) -> int:
    """A random seed NumPy and PyTorch both accept (0 … ``limits.SEED_MAX``)."""
    if not 0 <= int(seed) <= limits.SEED_MAX:
        raise UserError("errors.seed_range", value=str(seed)[:40], max=limits.SEED_MAX)
    return int(seed)


def check_save_path(path: str) -> None:
    """Fail before training, not after it, when the weights couldn't be written to ``path``."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK) or (
            os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UserError("errors.save_path", path=path[:200])


OWN_MODES = ("grey28", "colour32")  # explainer.data.ownimages.MODES (imported there lazily: PIL)


def read_own(path: str, mode: str, seed: int = 0):
    """``--dataset <zip or folder>``: the learner's own pictures (``explainer.data.ownimages``), by the Train page's
    rules and limits; the zip's size is checked before it is read. ``UserError`` for anything else."""
    from explainer.data import ownimages

    if os.path.isdir(path):
        return ownimages.read_folder(path, mode, seed)
    if not os.path.isfile(path):
        raise UserError("errors.zip.cli_dataset", choices=" / ".join(datasets.KEYS), value=str(path)[:200])
    if os.path.getsize(path) > limits.OWN_ZIP_BYTES:
        raise UserError("errors.zip.too_big", mb=limits.mb(limits.OWN_ZIP_BYTES))
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.OWN_ZIP_BYTES + 1)
    except OSError as exc:
        raise UserError("errors.zip.folder_unreadable", name=str(path)[:200], detail=str(exc)[:120]) from None
    return ownimages.read_zip(data, mode, seed)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m explainer.learning.train", description="Train a model on MNIST, Fashion-MNIST or your own pictures.")
    ap.add_argument("--model", default="fast", choices=MODEL_NAMES)
    ap.add_argument("--epochs", type=float, default=None, help="default: the data set's recipe, else 1")
    ap.add_argument("--optimizer", default=None, choices=OPTIMIZERS, help="default: the data set's recipe, else adam")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the data set's recipe, else 128")
    ap.add_argument("--no-one-cycle", action="store_true")
    ap.add_argument("--augment", action="store_true")
    ap.add_argument("--limit", type=int, default=limits.TRAIN_SIZE_MAX, help="training-set size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dataset", default=datasets.DEFAULT,
                    help="mnist (digits), fashion (Fashion-MNIST: $FASHION_MNIST_DIR, else Debian's "
                         "dataset-fashion-mnist, else downloaded once), or your own pictures: a .zip or a folder "
                         "whose top-level folders are the classes (the Train page's rules and limits)")
    ap.add_argument("--own-mode", default="colour32", choices=OWN_MODES,
                    help="your own pictures as grey 28×28 (as MNIST) or colour 32×32")
    ap.add_argument("--mnist", default=None, help="folder with the MNIST files (default: $MNIST_DIR)")
    ap.add_argument("--save", default=None, help="write the trained weights here")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap


def cli_recipe(args) -> dict:
    """The command line's optimizer, epochs, learning rate and batch size: those given, else the data set's recipe for
    the fast CNN (Fashion-MNIST's: ``datasets.train_defaults``; taken when no other optimizer than its own is given),
    else ``TrainConfig``'s defaults (Adam; the others left out here)."""
    recipe = datasets.train_defaults(args.dataset) if args.model == "fast" else {}
    if args.optimizer not in (None, recipe.get("optimizer", "adam")):
        recipe = {}
    given = {"optimizer": args.optimizer, "lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs}
    return {"optimizer": "adam", **recipe, **{k: v for k, v in given.items() if v is not None}}


def _cli_setup(args):
    """The command line's configuration, data and own set (None for a built-in one); ``UserError`` when refused."""
    from explainer.data.mnist import load_mnist

    check_device(args.device)
    check_seed(args.seed)
    if args.save:
        check_save_path(args.save)
    own = None if args.dataset in datasets.KEYS else read_own(args.dataset, args.own_mode, args.seed)
    config = TrainConfig(model=args.model, one_cycle=not args.no_one_cycle,
                         train_size=args.limit, **cli_recipe(args),
                         augment=args.augment, seed=args.seed, device=args.device,
                         dataset=datasets.OWN if own else args.dataset, own=datasets.own_spec(own) if own else None)
    if own:
        data = tuple(np.array(a) for a in (own.train_x, own.train_y, own.test_x, own.test_y))  # writable copies
    else:
        data = load_mnist(args.mnist) if args.dataset == "mnist" else config.data_set().load_all()
    return config, data, own


def _cli_save(path: str, result, config) -> bool:
    """Write the weights to ``path``; when it can't be written, to ./checkpoint-unsaved.pt and say so (False)."""
    try:
        with open(path, "wb") as fh:
            fh.write(save_checkpoint(result.model, config))
        return True
    except OSError:
        fallback = os.path.join(os.getcwd(), "checkpoint-unsaved.pt")
        with open(fallback, "wb") as fh:
            fh.write(save_checkpoint(result.model, config))
        print(f"error: {UserError('errors.save_path', path=path[:200])} → {fallback}", file=sys.stderr)
        return False


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config, data, own = _cli_setup(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress = None if args.json else (lambda r: print(
        f"step {r['step']}/{r['total_steps']}  loss {r['train_loss']:.4f}"
        + (f"  test acc {r['test_acc']:.4f}" if "test_acc" in r else ""), flush=True) if "test_acc" in r else None)
    try:
        result = train(config, data, on_progress=progress)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.save and not _cli_save(args.save, result, config):
        return 2
    out = {"dataset": config.dataset, "model": config.model, "test_accuracy": result.test_accuracy, "train_seconds": result.train_seconds,
           "images_per_second": result.images_per_second, "epochs": result.epochs_done, "device": result.device,
           "optimizer": config.optimizer, "lr": config.learning_rate, "batch_size": config.batch_size,
           "train_size": config.train_size,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if own:
        out.update(classes=list(own.class_names), own_mode=own.mode, data_sha256=own.sha256,
                   train_images=int(len(own.train_y)), test_images=int(len(own.test_y)))
    print(json.dumps(out) if args.json else out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
