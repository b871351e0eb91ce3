"""Train a small CNN on MNIST, live: training on the engine (Dask workers), curves, runs to compare, a look inside,
draw a digit. The page never trains nor scores the test set itself: ``explainer.engine.jobs`` does, on a worker."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import time
from typing import Callable

import numpy as np
import streamlit as st

from explainer.data import datasets, ownimages
from explainer.engine import core, jobs, protocol
from explainer.learning import models as M
from explainer.data.draw import preprocess_drawing
from explainer import limits
from explainer.errors import UserError
from explainer.learning.runs import KeptRun
from explainer.learning.evaluation import cell_indices, confusion_matrix, worst_mistakes
from explainer.figures import heatmap
from explainer.figures import train as figs
from explainer.data.images import decode_upload
from explainer.maths.kernels import format_kernel
from explainer.learning.train import (OWN_EXPORT_FILE, TrainConfig, estimate_seconds, export_code, load_checkpoint,
                             own_npz, predict_proba, save_checkpoint)
from ui import jobs as ui_jobs
from ui.data import built_in
from ui.charts import chart, figure
from ui.questions import ask_all
from ui.canvas import draw_canvas
from ui import runs as runstore
from ui.shell import from_outside, labels, lang, literal, note, phone, publish, t, t_error, unpublish, widget
from ui.tables.train import PRESETS, RECIPES, TABLE as TRAIN


def _preset(name: str) -> None:
    st.session_state.update(PRESETS[name])
    if name == "fast":  # the fast CNN's recipe for the chosen data set
        st.session_state.update(RECIPES.get(st.session_state.get("tr_dataset"), RECIPES[datasets.DEFAULT]))


def _recipe() -> None:
    """Choosing another data set: the training settings the learner left at the last set's recipe (optimizer, learning
    rate, batch, epochs; ``ui.tables.train.RECIPES``) become the new set's; those changed stay as they are."""
    ss = st.session_state
    before = RECIPES.get(ss.get("_kept_widget_values", {}).get("tr_dataset"), RECIPES[datasets.DEFAULT])
    after = RECIPES.get(ss.get("tr_dataset"), RECIPES[datasets.DEFAULT])
    ss.update({k: v for k, v in after.items() if ss.get(k, before[k]) == before[k]})


def data_of(key: str, config=None):
    """The arrays of the data set ``key`` (a run's: its ``config``), or None when this server lacks it. A learner's
    own images are this session's upload, and only when they are the run's (same hash)."""
    if key == datasets.OWN:
        held = st.session_state.get("_tr_own")
        spec = getattr(config, "own", None) if config is not None else None
        if held is None or (spec is not None and spec.get("sha256") != held.sha256):
            return None
        return (held.train_x, held.train_y, held.test_x, held.test_y)
    try:
        return built_in(key)
    except UserError:
        return None


def class_names(key: str, config=None) -> list[str]:
    if key == datasets.OWN:
        return list(config.own["names"]) if config is not None else list(st.session_state["_tr_own"].class_names)
    return datasets.get(key).class_names(lang())


def entry(key: str) -> datasets.Dataset:
    """The registry entry of ``key``; for your own images, this session's upload (else a two-class stand-in of the
    chosen picture size, so the model's table can be shown before any upload)."""
    if key != datasets.OWN:
        return datasets.get(key)
    held = st.session_state.get("_tr_own")
    if held is not None:  # its normalisation is computed once per upload (a pass over all its pictures)
        cached = st.session_state.get("_tr_own_entry")
        if cached is None or cached[0] != held.sha256 + held.mode:
            cached = st.session_state["_tr_own_entry"] = (held.sha256 + held.mode, datasets.own(held))
        return cached[1]
    mode = st.session_state.get("tr_own_mode", TRAIN["tr_own_mode"].default)
    c = 3 if mode == "colour32" else 1
    return datasets.from_spec({"sha256": "0" * 64, "mode": mode, "names": ["1", "2"], "mean": [0.5] * c,
                               "std": [0.25] * c})


def _sample_row(samples: np.ndarray) -> np.ndarray:
    """A class's sample pictures side by side, 2 white pixels apart."""
    gap = np.full((samples.shape[1], 2, *samples.shape[3:]), 255, np.uint8)
    return np.concatenate([p for x in samples for p in (x, gap)][:-1], axis=1)


def own_data() -> tuple | None:
    """Your own images: the picture size, the zip upload (read in memory, kept with this session only, never on
    disk), then the class counts and a sample grid per class; the arrays, or None before a good upload."""
    mode = widget(st.segmented_control, t("datasets.own_ui.mode"), TRAIN["tr_own_mode"],
                  format_func=labels("datasets.own_ui.mode_"))
    up = st.file_uploader(t("datasets.own_ui.upload"), type=["zip"], key="tr_own_zip",
                          max_upload_size=limits.mb(limits.OWN_ZIP_BYTES),
                          help=t("datasets.own_ui.upload_help", mb=limits.mb(limits.OWN_ZIP_BYTES),
                                 lo=limits.OWN_CLASSES_MIN, hi=limits.OWN_CLASSES_MAX, per=limits.OWN_PER_CLASS_MIN,
                                 n=limits.OWN_IMAGES_MAX))
    if up is not None:
        signature = (up.name, up.size, getattr(up, "file_id", None), mode)
        if st.session_state.get("_tr_own_sig") != signature:
            st.session_state["_tr_own_sig"] = signature
            try:
                with st.spinner(t("datasets.own_ui.reading")):
                    held = ownimages.read_zip(up.getvalue(), mode)
            except UserError as exc:
                st.session_state["_tr_own_error"] = t_error(exc)
                if exc.key == "errors.upload_busy":  # the server's decodes were all busy: the next rerun tries again
                    st.session_state.pop("_tr_own_sig", None)
            else:
                st.session_state.pop("_tr_own_error", None)
                st.session_state["_tr_own"] = held
        if st.session_state.get("_tr_own_error"):
            st.error(st.session_state["_tr_own_error"])
    held = st.session_state.get("_tr_own")
    if held is None or held.mode != mode:
        st.info(t("datasets.own_ui.none"))
        return None
    with st.expander(t("train.data_header", name=t(f"datasets.{datasets.OWN}")), expanded=True):
        st.markdown(t("datasets.own_ui.summary", n=sum(held.counts), k=held.n_classes, train=len(held.train_y),
                      test=len(held.test_y)))
        if held.converted:
            st.caption(t("datasets.own_ui.converted", n=sum(held.converted.values())))
        st.dataframe([{t("datasets.own_ui.col_class"): name, t("datasets.own_ui.col_count"): n}
                      for name, n in zip(held.class_names, held.counts)], hide_index=True)
        for name, samples in zip(held.class_names, held.samples):  # one picture per class: one encoding each
            st.caption(literal(name))
            st.image(_sample_row(samples), width=min(60 * len(samples), 480))
    return (held.train_x, held.train_y, held.test_x, held.test_y)


def intro_text(key: str, data) -> str:
    """The page's first paragraph for the data set ``key``: MNIST's digits, else its training pictures counted (what
    this server has of it, or your upload), and its classes."""
    if key == datasets.DEFAULT:
        return t("train.intro")
    if data is None:
        what = t("train.intro_what_none", name=t(f"datasets.{key}"))
    else:
        what = t("train.intro_what_own" if key == datasets.OWN else "train.intro_what", n=len(data[1]),
                 name=t(f"datasets.{key}"), k=entry(key).num_classes)
    return t("train.intro_other", what=what)


def class_word(names: list[str] | None) -> str:
    """The probabilities' axis: "digit" for MNIST's classes, "class" for any other data set's."""
    digits = list(datasets.get(datasets.DEFAULT).names)
    return t("train.digit") if not names or list(names) == digits else t("datasets.class")


# ---------------------------------------------------------------- the data and the kept runs
def dataset(runs: list[KeptRun]) -> tuple[str, tuple | None]:
    """The data set picker (a link's run brings its own data set back) and a glimpse of the data; the data is None,
    with a message saying how to get it, when it can't be had."""
    linked = [r.config.dataset for r in runs]
    key = widget(st.selectbox, t("datasets.picker"), TRAIN["tr_dataset"], default=linked[-1] if linked else TRAIN["tr_dataset"].default,
                 format_func=labels("datasets."), help=t("datasets.picker_help"), on_change=_recipe)
    if key == datasets.OWN:
        st.caption(t("datasets.own_source"))
        return key, own_data()
    ds = datasets.get(key)
    st.caption(t(ds.source_key))
    recipe = datasets.train_defaults(key)
    if recipe:  # where the settings below start on this set (the fast CNN's recipe), and why
        st.caption(t("datasets.recipe", opt=t(f"train.opt_{recipe['optimizer']}"), lr=f"{recipe['lr']:g}",
                     epochs=f"{recipe['epochs']:g}"))
    if not ds.available() and key == "fashion":
        st.warning(t("datasets.missing", package=datasets.FASHION_PACKAGE, env=datasets.FASHION_ENV))
        return key, None
    try:
        with st.spinner(t("train.loading")):
            data = built_in(key)
    except UserError as exc:
        st.error(t_error(exc))
        st.info(t("train.no_data"))
        return key, None
    names = ds.class_names(lang())
    header = t("train.data_header", name=ds.title(lang()))
    with st.expander(header, expanded=True):
        st.markdown(t("train.data_text", n=len(data[0]), m=len(data[2])) if key == datasets.DEFAULT else
                    t("datasets.data_text", n=len(data[0]), m=len(data[2]), h=ds.shape[1], w=ds.shape[2],
                      k=ds.num_classes, classes=", ".join(names)))
        if key == datasets.DEFAULT:  # digits: 16 in a row, "label 5" under each
            shown = dict(captions=[t("train.label_caption", y=names[int(y)]) for y in data[1][:16]], cols=16, height=150)
        else:  # class names are longer than a digit: 8 in a row (4 on a phone), the name alone
            cols = 4 if phone() else 8
            shown = dict(captions=[names[int(y)] for y in data[1][:16]], cols=cols, height=300 if cols == 8 else 500)
        chart(figs.gallery(data[0][:16], **shown), key="tr_data", name=header,
              summary=t("train.gallery_summary", n=len(data[1][:16]), names=", ".join(names[int(y)] for y in data[1][:16])))
    return key, data


def kept_runs() -> list[KeptRun]:
    """This session's runs, in the session state; a reload or a link (?run=…) brings kept runs back."""
    runs: list[KeptRun] = st.session_state.setdefault("tr_runs", [])
    runstore.restore_runs(runs)
    return runs


# ---------------------------------------------------------------- model and settings
def setup(key: str = datasets.DEFAULT) -> tuple[str, dict, dict, Callable]:
    """Presets, then the model (left) and how to train it (right): the model's name, its options, the settings, and
    what draws the model's layer table (``model_settings``)."""
    st.header(t("train.setup_header"))
    with st.container(horizontal=True, wrap=True):  # buttons as wide as their labels, wrapping: never truncated
        for name in PRESETS:
            st.button(t(f"train.preset_{name}"), key=f"tr_preset_{name}", on_click=_preset, args=(name,), width="content")
    left, right = st.columns([1, 1])
    with left:
        model_name, options, layer_table = model_settings(key)
    with right:
        settings = training_settings(key)
    return model_name, options, settings, layer_table


@st.cache_resource(max_entries=256, show_spinner=False)
def _layer_rows(model_name: str, options: tuple, data: tuple, input_shape: tuple, total_label: str) -> list[dict]:
    """A model's layer table (shapes and parameter counts, not its random weights) for a data set's shape and
    classes: built once per setting for every session, not on every click (read it, don't change it)."""
    return M.summary(M.build_model(model_name, **dict(data), **dict(options)), total_label, input_shape=input_shape)


def model_label(key: str = datasets.DEFAULT) -> Callable[[str], str]:
    """A ``format_func`` naming the models for the data set ``key``: the MLP's name counts its inputs and classes
    (784-…-10 for a digit, 3072-…-k for k classes of colour 32×32 pictures)."""
    c, h, w = entry(key).shape
    mlp = t("train.mlp_label", inputs=c * h * w, classes=entry(key).num_classes)
    named = labels("train.model_")
    return lambda name: mlp if name == "mlp" else named(name)


def model_settings(key: str = datasets.DEFAULT) -> tuple[str, dict, Callable]:
    """The model (a custom one's blocks, channels, …) and a place for its layer table, for the data set ``key``; returns
    the model, its options and ``layer_table(revealed)``, which draws the table there once the questions are asked:
    predict first (``ui.questions``), the shape column waits for ``train.first_values``, the parameter counts (and the
    total) for ``train.params``."""
    model_name = widget(st.selectbox, t("train.model"), TRAIN["tr_model"], format_func=model_label(key))
    options = custom_options() if model_name == "custom" else {}
    ds = entry(key)
    st.caption(t(f"train.about_{model_name}", inputs=f"{int(np.prod(ds.shape)):,}"))
    rows = _layer_rows(model_name, tuple(sorted(options.items())), tuple(sorted(ds.model_kwargs().items())),
                       (1, *ds.shape), t("train.total_row"))
    slot = st.empty()

    def layer_table(revealed: dict[str, bool]) -> None:
        shapes, params = revealed.get("train.first_values", True), revealed.get("train.params", True)
        shown = rows if params else [r for r in rows if r["layer"] != t("train.total_row")]  # the total: a count
        table = [{t("train.col_layer"): r["layer"],
                  **({t("train.col_shape"): " × ".join(map(str, r["output_shape"]))} if shapes else {}),
                  **({t("train.col_params"): f"{r['params']:,}"} if params else {})} for r in shown]
        with slot.container():
            st.dataframe(table, hide_index=True, width="stretch")
            if not (shapes and params):
                st.info(t("questions.hidden_below"))

    return model_name, options, layer_table


def custom_options() -> dict:
    """A custom model's architecture, as ``models.build_model`` keywords."""
    c1, c2 = st.columns(2)
    return {"blocks": widget(c1.slider, t("train.blocks"), TRAIN["tr_blocks"]),
            "channels": widget(c2.select_slider, t("train.channels"), TRAIN["tr_channels"]),
            "kernel_size": widget(c1.select_slider, t("train.kernel"), TRAIN["tr_kernel"]),
            "pool": widget(c2.selectbox, t("train.pool"), TRAIN["tr_pool"]),
            "dropout": widget(c1.slider, t("train.dropout"), TRAIN["tr_dropout"]),
            "batchnorm": widget(c2.toggle, t("train.batchnorm"), TRAIN["tr_bn"])}


def training_settings(key: str = datasets.DEFAULT) -> dict:
    """Optimizer, learning rate and schedule, batch, epochs, digits, seed, augmentation: ``TrainConfig`` keywords. The
    defaults are data set ``key``'s recipe for the fast CNN (``RECIPES``: Fashion-MNIST has its own)."""
    recipe = RECIPES.get(key, RECIPES[datasets.DEFAULT])
    opt = widget(st.selectbox, t("train.optimizer"), TRAIN["tr_opt"], default=recipe["tr_opt"],
                 format_func=labels("train.opt_"))
    lr = widget(st.number_input, t("train.lr"), TRAIN["tr_lr"], default=recipe["tr_lr"], format="%.4f")
    cycle = widget(st.toggle, t("train.one_cycle"), TRAIN["tr_cycle"], help=t("train.one_cycle_help"))
    c1, c2 = st.columns(2)
    bs = widget(c1.select_slider, t("train.batch"), TRAIN["tr_bs"], default=recipe["tr_bs"])
    epochs = widget(c2.number_input, t("train.epochs"), TRAIN["tr_epochs"], default=recipe["tr_epochs"], format="%g")
    size = widget(c1.select_slider, t("train.size"), TRAIN["tr_size"])
    seed = widget(c2.number_input, t("train.seed"), TRAIN["tr_seed"])
    aug = widget(st.toggle, t("train.augment"), TRAIN["tr_aug"], help=t("train.augment_help"))
    return dict(optimizer=opt, lr=lr, one_cycle=cycle, batch_size=bs, epochs=epochs, train_size=int(size),
                augment=aug, seed=int(seed))


# ---------------------------------------------------------------- start, stop, the live run
def controls(runs: list[KeptRun], data, model_name: str, options: dict, settings: dict,
             key: str = datasets.DEFAULT) -> bool:
    """The time estimate, Start and Stop; returns whether a training is running."""
    # the time estimate comes from the speed measured here (the last finished run of this model), never a fixed figure
    speeds = [r.ips for r in runs if r.ips and r.config.model == model_name]
    if speeds:
        seconds = estimate_seconds(settings["epochs"], trained_size(settings, key, data), speeds[-1])
        st.caption(t("train.estimate", ips=f"{speeds[-1]:,.0f}", s=f"{seconds:.0f}"))
    else:
        st.caption(t("train.estimate_none"))
    job: jobs.TrainingJob | None = st.session_state.get("tr_job")
    running = job is not None and not job.done
    b1, b2 = st.columns(2)
    if b1.button(t("train.start"), key="tr_start", type="primary", disabled=running or data is None, width="stretch"):
        running = start(runs, model_name, options, settings, key, data) or running
    if b2.button(t("train.stop"), key="tr_stop", disabled=not running, width="stretch"):
        st.session_state["tr_job"].stop()
    return running


def trained_size(settings: dict, key: str, data) -> int:
    """How many pictures a training goes through per epoch: the chosen size, or fewer when an upload has fewer."""
    if key == datasets.OWN and data is not None:
        return min(settings["train_size"], len(data[0]))
    return settings["train_size"]


def start(runs: list[KeptRun], model_name: str, options: dict, settings: dict, key: str = datasets.DEFAULT,
          data=None) -> bool:
    """A training job on the engine; False when the settings are refused or the engine is unavailable (said). Your own
    images go with the job, once (the run keeps only their class names and hash)."""
    try:
        job = jobs.TrainingJob(make_config(model_name, options, settings, key), data if key == datasets.OWN else None,
                               owner=ui_jobs.owner(), visitor=ui_jobs.visitor())
    except UserError as exc:
        st.error(t_error(exc))
        return False
    job = ui_jobs.start(job)
    if job is None:
        return False
    st.session_state.pop("tr_lost", None)
    st.session_state.pop("tr_rejoin", None)  # a new training instead of the one a reconnection found lost
    st.session_state["tr_job"] = job
    st.session_state["tr_job_label"] = run_label(runs, model_name, settings, key, data)
    return True


def make_config(model_name: str, options: dict, settings: dict, key: str = datasets.DEFAULT) -> TrainConfig:
    """The training the page's settings describe (``UserError`` when refused). Your own images: this session's upload."""
    own = datasets.own_spec(st.session_state["_tr_own"], entry(key)) if key == datasets.OWN else None
    return TrainConfig(model=model_name, model_options=options, dataset=key, own=own, **settings)


def run_label(runs: list[KeptRun], model_name: str, settings: dict, key: str = datasets.DEFAULT, data=None) -> str:
    """A new run's name in the runs table: its number, model, optimizer, size (and data set when not MNIST)."""
    return t("train.run_label", n=len(runs) + 1, model=model_label(key)(model_name),
             opt=t(f"train.opt_{settings['optimizer']}"), size=trained_size(settings, key, data)) + (
        "" if key == datasets.DEFAULT else f" · {entry(key).title(lang())}")


def _finish(job: jobs.TrainingJob, runs: list[KeptRun]) -> None:
    """Move a finished job into the list of runs (once). The worker scored the test set: keep its predictions."""
    if job.error:
        st.session_state["tr_error"] = job.error
    elif job.state == "lost":  # said with a Retry button until the learner retries, dismisses or starts another
        st.session_state["tr_lost"] = (job, job.poll(), st.session_state.get("tr_job_label", "run"), False)
    elif job.state == "abandoned":
        st.session_state["tr_error_abandoned"] = True
    elif job.result is not None:
        runs.append(KeptRun.trained(st.session_state.get("tr_job_label", "run"), job.result))
        runstore.remember(runs[-1])  # kept on disk: a reload or the link brings it back
        st.session_state["trained_model"] = runs[-1]  # the Optimizers page's landscape
    st.session_state.pop("tr_job", None)


# ---------------------------------------------------------------- the job in the URL: a reconnection finds it
JOB = "job"  # the URL parameter naming this session's training while it waits, runs, or is lost with a Retry
#: how long a reconnected page waits for a training it lost to end on the engine (nobody beats its heartbeat any
#: more: the worker ends it within ``HEARTBEAT_TIMEOUT``); still there after that, another page follows it
REJOIN_WAIT = protocol.HEARTBEAT_TIMEOUT + protocol.CLOCK_SKEW + 10.0


def _held_key() -> str | None:
    """The key of the training this session follows (running or queued), or offers a Retry of."""
    ss = st.session_state
    job = ss.get("tr_job")
    if job is not None:
        return job.key
    lost, rejoin = ss.get("tr_lost"), ss.get("tr_rejoin")
    return lost[0].key if lost is not None else rejoin[0] if rejoin is not None else None


def rejoin_link() -> None:
    """A ``?job=`` this session doesn't hold: the browser reconnected to another web server after its own died (or
    reloaded), keeping its URL, and this new session has lost the training that URL names. Checked strictly (a
    training's key as the engine makes them, ``jobs.training_key``, of this visitor: the key ends in the hash of the
    browser's cookie, so a shared link can't resume, stop or delete another's checkpoint) before anything is done
    with it, then kept for ``job_messages`` to say; anything else is taken off the URL with a toast. A session that
    follows a training of its own keeps it (one training per session). Nothing is started here."""
    ss = st.session_state
    raw = st.query_params.get(JOB)
    if raw is None or raw == _held_key() or not from_outside(JOB, raw):
        return
    key = jobs.training_key(raw)
    if key is None:
        shown = raw[:limits.SHOWN_VALUE_CHARS] + ("…" if len(raw) > limits.SHOWN_VALUE_CHARS else "")
        st.toast(t("common.bad_url_param", name=JOB, value=literal(shown)), icon="⚠️", duration="long")
        unpublish(JOB, raw)
        return
    if core.visitor_of(key) != core.visitor_tag(ui_jobs.visitor()):  # another browser's (a shared link): not ours
        st.toast(t("train.rejoin_foreign"), icon="⚠️", duration="long")
        unpublish(JOB, raw)
        return
    job = ss.get("tr_job")
    if job is not None:  # this session follows its own training: the URL names that one again (publish_job)
        unpublish(JOB, raw)
        return
    ss.pop("tr_lost", None)
    ss["tr_rejoin"] = (key, time.monotonic())
    publish(JOB, key)


def publish_job() -> None:
    """The URL names this session's training while it waits or runs, and while a lost one's Retry is offered (a
    reconnection elsewhere then offers it too); not once it has ended, been retried (the new key) or dismissed."""
    key = _held_key()
    if key is not None:
        publish(JOB, key)
    elif JOB in st.query_params or JOB in st.session_state.get("_kept_widget_values", {}):
        unpublish(JOB)


@st.fragment(run_every=2.0)
def _rejoin_wait(key: str, since: float) -> None:
    """The lost training may still be followed (its page's last heartbeat is recent, or this process's engine is not
    connected yet): say so, and show the whole page again once that is known, or after ``REJOIN_WAIT``."""
    st.info(t("train.rejoin_waiting"))
    if ui_jobs.orphan_state(key) not in ("unknown", "followed") or time.monotonic() - since >= REJOIN_WAIT:
        st.rerun(scope="app")


def rejoin(runs: list[KeptRun], model_name: str, options: dict, settings: dict, key: str, data) -> None:
    """A training the URL names and this session lost with its web server (``rejoin_link``), judged by its link on
    the scheduler (``ui.jobs.orphan_state``): while a page's heartbeat is still fresh (or the engine is not there yet),
    wait; nobody follows it: a lost training like one lost with the engine (``tr_lost``: its message and Retry, going
    on from its checkpoint when there is one of the page's settings, which came back with the URL); it ended under the
    page that followed it (finished, stopped), or a page still follows it after ``REJOIN_WAIT``: said, nothing to
    retry."""
    ss = st.session_state
    job_key, since = ss["tr_rejoin"]
    state = ui_jobs.orphan_state(job_key)
    if state in ("unknown", "followed") and time.monotonic() - since < REJOIN_WAIT:
        _rejoin_wait(job_key, since)
        return
    if state in ("followed", "ended"):
        ss.pop("tr_rejoin", None)
        unpublish(JOB)
        st.info(t("train.rejoin_elsewhere" if state == "followed" else "train.rejoin_ended"))
        return
    ss.pop("tr_rejoin", None)  # orphaned (or the engine never answered: its Retry says so)
    try:
        if data is None and key == datasets.OWN:  # your own images were not uploaded again: nothing to retry with
            raise UserError("errors.zip.own_gone")
        lost, view = jobs.TrainingJob.interrupted(job_key, make_config(model_name, options, settings, key),
                                                  data if key == datasets.OWN else None, owner=ui_jobs.owner(),
                                                  visitor=ui_jobs.visitor())
    except UserError as exc:
        st.warning(t("jobs.lost_plain"))
        st.error(t_error(exc))
        unpublish(JOB)
        return
    ss["tr_lost"] = (lost, view, run_label(runs, model_name, settings, key, data), True)


def job_messages(runs: list[KeptRun], model_name: str, options: dict, settings: dict, key: str, data) -> None:
    """What went wrong with the last job (said once); a lost training's Retry, which goes on from its checkpoint
    (lost with the engine, a worker, or the web server its page ran on), and its Dismiss."""
    if st.session_state.get("tr_rejoin") is not None and st.session_state.get("tr_job") is None:
        rejoin(runs, model_name, options, settings, key, data)
    lost = st.session_state.get("tr_lost")
    if lost is not None and st.session_state.get("tr_job") is None:
        job, view, label, server = lost
        if core.restarting():
            st.warning(t("jobs.engine_restarting"))
        pressed = ui_jobs.lost(view, "tr_retry", server=server, dismiss="tr_lost_dismiss")
        if pressed == "retry":
            again = ui_jobs.start(job.retry())
            if again is not None:
                st.session_state.pop("tr_lost", None)
                st.session_state["tr_job"], st.session_state["tr_job_label"] = again, label
                st.rerun()
        elif pressed == "dismiss":
            st.session_state.pop("tr_lost", None)
            unpublish(JOB)
            st.rerun()
    if st.session_state.get("tr_error"):
        st.error(t("train.failed", detail=literal(st.session_state.pop("tr_error"))))
    if st.session_state.pop("tr_error_abandoned", False):
        st.warning(t("jobs.abandoned"))


# ---------------------------------------------------------------- runs and curves
def runs_table(runs: list[KeptRun]) -> None:
    """The runs side by side, their curves, and a button to forget them all."""
    if not runs:
        return
    st.header(t("train.runs_header"))
    st.dataframe([run_row(r) for r in runs], hide_index=True, width="stretch")
    curved = [{"label": r.label, "history": r.history} for r in runs if r.history]  # none for a loaded checkpoint
    for col, metric, title in zip(st.columns(2) if curved else (), ("acc", "loss"), ("train.accuracy", "train.loss")):
        with col:
            chart(figs.curves(curved, metric=metric, x_title=t("train.epoch"), y_title=t(title),
                              train_label=t("train.train"), test_label=t("train.test")), key=f"tr_{metric}", name=t(title))
    note(t("train.overfit_note"))
    if st.button(t("train.clear_runs"), key="tr_clear"):
        runs.clear()
        runstore.forget_all()
        st.rerun()


def run_row(r: KeptRun) -> dict:
    """One run's row of the runs table ("…" while its test score is on its way)."""
    return {t("train.col_run"): r.label,
            t("train.col_acc"): f"{100 * r.test_accuracy:.2f} %" if r.test_accuracy == r.test_accuracy else "…",
            t("train.col_time"): f"{r.seconds:.1f} s", t("train.col_ips"): f"{r.ips:.0f}",
            t("train.col_train_acc"): (f"{100 * r.history[-1]['train_acc']:.2f} %" if r.history else "—"),
            t("train.col_stopped"): "✓" if r.stopped else ""}


# ---------------------------------------------------------------- weights: load, score
def load_weights(runs: list[KeptRun]) -> None:
    """The "inside" header and a checkpoint upload: a new run, scored on the engine; its message while it's there."""
    st.header(t("train.inside_header", n=3 if runs else 2))
    up = st.file_uploader(t("train.load"), key="tr_load", max_upload_size=limits.mb(limits.CHECKPOINT_BYTES),
                          help=t("train.load_help", mb=limits.mb(limits.CHECKPOINT_BYTES)))
    if up is not None and st.session_state.get("_tr_loaded") != (up.name, up.size):
        st.session_state["_tr_loaded"] = (up.name, up.size)
        add_checkpoint(up, runs)
    if up is None:
        st.session_state.pop("_tr_loaded_ok", None)
    elif st.session_state.get("_tr_loaded_ok"):
        # shown on every run while the file is there, so the page below keeps its place: a message that vanished on
        # the next run (the canvas's first stroke) remounted the tabs and the canvas, losing that stroke
        acc = st.session_state.get("tr_loaded_acc")
        st.success(t("train.loaded_scoring") if acc is None else t("train.loaded", acc=f"{100 * acc:.2f}"))


def add_checkpoint(up, runs: list[KeptRun]) -> None:
    """An uploaded checkpoint becomes a run (or an error is shown)."""
    try:
        model, config = load_checkpoint(up.getvalue())
    except UserError as exc:
        st.error(t_error(exc))
        return
    # scored on a worker (10,000 test digits); the run shows "…" until the score is back
    key = getattr(config, "dataset", datasets.DEFAULT)
    own = data_of(key, config) if key == datasets.OWN else None  # your own images: scored only with their upload
    scoring = (ui_jobs.start(jobs.EvaluationJob(model, config, owner=ui_jobs.owner(), data=own))
               if key != datasets.OWN or own is not None else None)
    runs.append(KeptRun.uploaded(t("train.loaded_label", name=up.name), model, config, scoring))
    st.session_state["trained_model"] = KeptRun.uploaded(up.name, model, config)  # the landscape names the file
    st.session_state.pop("tr_loaded_acc", None)
    st.session_state["_tr_loaded_ok"] = True


@st.fragment(run_every=1.0)
def _scoring(runs: list[KeptRun]) -> None:
    """Loaded weights being scored on the engine: their queue state, then the whole page with the score."""
    for run in runs:
        job = run.scoring
        if job is None:
            continue
        view = job.poll()
        if view.finished:
            ev = job.result
            if ev is not None:
                run.evaluation, run.test_accuracy = ev, ev["accuracy"]
                if not run.id:  # an upload: kept with its score, so a reload or the link brings it back
                    st.session_state["tr_loaded_acc"] = ev["accuracy"]
                    runstore.remember(run)
                trained = st.session_state.get("trained_model")
                if trained is not None and trained.model is run.model:
                    trained.test_accuracy, trained.id = ev["accuracy"], run.id
            elif view.error or view.state == "lost":
                st.session_state["tr_error"] = ui_jobs.failure_detail(view)
            run.scoring = None  # done (a failed scoring is not retried on every rerun)
            st.rerun(scope="app")
        ui_jobs.status(view, t("jobs.scoring"))


def score(runs: list[KeptRun], data) -> None:
    """Runs a link or a reload brought back are scored on a worker too, one at a time, the newest first (the one
    "look inside" shows); while any is being scored, a fragment polls it."""
    unscored = [r for r in runs if r.evaluation is None and not r.score_asked]
    last = unscored[-1].config if unscored else None
    key = getattr(last, "dataset", datasets.DEFAULT)
    if unscored and data_of(key, last) is not None and not any(r.scoring is not None for r in runs):
        unscored[-1].score_asked = True
        unscored[-1].scoring = ui_jobs.start(jobs.EvaluationJob(unscored[-1].model, unscored[-1].config,
                                                                data=data_of(key, last) if key == datasets.OWN else None,
                                                                owner=ui_jobs.owner()))
    if any(r.scoring is not None for r in runs):
        _scoring(runs)


# ---------------------------------------------------------------- which run to look inside
def _picked(key: str, runs: list[KeptRun]) -> None:
    i = st.session_state[key]
    st.session_state["_tr_pick"] = None if i == len(runs) - 1 else i


def pick_run(runs: list[KeptRun]) -> KeptRun:
    """Follow the newest run unless the learner chose another (the choice is kept in _tr_pick and set into the declared
    ``tr_pick`` on every run, so a new run doesn't keep the old choice's index). Its link, saving it, its training script."""
    chosen = st.session_state.get("_tr_pick")
    chosen = chosen if isinstance(chosen, int) and 0 <= chosen < len(runs) else len(runs) - 1
    st.session_state["tr_pick"] = chosen
    pick = widget(st.selectbox, t("train.inspect_run"), TRAIN["tr_pick"], options=list(range(len(runs))),
                  format_func=lambda i, names=[r.label for r in runs]: names[i] if 0 <= i < len(names) else str(i),
                  on_change=_picked, args=("tr_pick", runs))
    run = runs[pick]
    if run.id:
        st.caption(t("train.run_link", link=f"?run={run.id}"))
    c1, c2 = st.columns(2)
    if run.checkpoint is None:
        run.checkpoint = save_checkpoint(run.model, run.config)
    c1.download_button(t("train.save"), data=run.checkpoint, file_name=f"{run.config.model}-{run.config.dataset}.pt",
                       key="tr_save")
    held = data_of(datasets.OWN, run.config) if run.config.dataset == datasets.OWN else None
    if run.config.dataset == datasets.OWN and held is None:  # the script needs the pictures: this session's only
        c2.caption(t("datasets.own_ui.no_export"))
        return run
    with c2.popover(t("train.export")):
        code = export_code(run.config)
        st.code(code, language="python")
        st.download_button(t("train.export_download"), data=code, file_name=f"train_{run.config.dataset}.py",
                           key="tr_export_dl")
        if held is not None:
            own_export(run)
    return run


def own_export(run: KeptRun) -> None:
    """Your own images' prepared pictures (the exported script reads them), packed on request (a pass over all of
    them) and given back to the learner who uploaded them, once per upload."""
    held = st.session_state["_tr_own"]
    st.caption(t("datasets.own_ui.export_text", file=OWN_EXPORT_FILE))
    packed = st.session_state.get("_tr_own_npz")
    if packed is None or packed[0] != held.sha256 + held.mode:
        if not st.button(t("datasets.own_ui.export_prepare"), key="tr_own_npz"):
            return
        packed = st.session_state["_tr_own_npz"] = (held.sha256 + held.mode, own_npz(held))
    st.download_button(t("datasets.own_ui.export_download", mb=f"{len(packed[1]) / 1e6:.1f}"), data=packed[1],
                       file_name=OWN_EXPORT_FILE, key="tr_own_npz_dl")


# ---------------------------------------------------------------- what the model learned
def inspect(run: KeptRun) -> None:
    """Four tabs on the chosen run (on its own data set's test images): its test confusion, its first kernels, its
    feature maps, a digit to draw."""
    key = run.config.dataset
    data, names = data_of(key, run.config), class_names(key, run.config)
    # lazy tabs: a switch reruns the page and only the open tab's content runs (the server CPU per click)
    tabs = st.tabs([t("train.tab_confusion"), t("train.tab_kernels"), t("train.tab_features"), t("train.tab_draw")],
                   key="tr_tabs", on_change="rerun")

    def draw() -> None:
        if run.config.data_set().channels == 1:
            draw_tab(run.model, names)
        else:  # a colour model takes 3×32×32 pictures: the canvas draws grey 28×28 digits
            st.info(t("datasets.own_ui.no_draw"))

    views = (lambda: confusion_tab(run, data, names), lambda: kernels_tab(run.model),
             lambda: features_tab(run.model, data, names), draw)
    for tab, view in zip(tabs, views):
        if tab.open is not False:
            with tab:
                view()


def confusion_tab(run: KeptRun, data, names: list[str] | None = None) -> None:
    """The worker's evaluation: accuracy, the confusion matrix (a cell chooses digits to show), the worst mistakes."""
    if data is None:
        st.info(t("train.no_data"))
        return
    if run.evaluation is None:
        st.info(t("jobs.scoring") if run.scoring is not None else t("jobs.not_scored"))
        return
    ev = run.evaluation
    y_true, y_pred = data[3], ev["predictions"]
    names = names or [str(d) for d in range(10)]
    cm = confusion_matrix(y_true, y_pred, n_classes=len(names))
    wrong = int((y_true != y_pred).sum())
    st.markdown(t("train.test_acc", acc=f"{100 * ev['accuracy']:.2f}", wrong=wrong) if run.config.dataset == datasets.DEFAULT
                else t("train.test_acc_other", acc=f"{100 * ev['accuracy']:.2f}", wrong=wrong, n=f"{len(y_true):,}"))
    follow_cell_click()
    picked = (st.session_state.get("tr_cell_true"), st.session_state.get("tr_cell_pred"))
    chart(figure(figs.confusion, cm, x_title=t("train.predicted"), y_title=t("train.true"), value_label=t("train.count"),
                 selected=picked if None not in picked else None, class_names=names),
          key="tr_cm", name=t("train.tab_confusion"), on_select="rerun", selection_mode="points")
    cell_digits(cm, y_true, y_pred, data[2], names)
    st.subheader(t("train.mistakes"))
    worst = worst_mistakes(y_true, y_pred, ev["probabilities"], k=16)
    chart(figure(figs.gallery, data[2][worst], [t("train.mistake_caption", true=names[y_true[i]], pred=names[y_pred[i]],
                                                  p=f"{100 * ev['probabilities'][i, y_pred[i]]:.0f}") for i in worst]),
          key="tr_mistakes", name=t("train.mistakes"))


def follow_cell_click() -> None:
    """A click on a cell (a new one: the chart keeps its last selection) chooses the dropdowns below."""
    cm_event = st.session_state.get("tr_cm")
    pts = (cm_event or {}).get("selection", {}).get("points", []) if cm_event else []
    if pts and "x" in pts[0] and "y" in pts[0]:
        cell = (int(round(pts[0]["y"])), int(round(pts[0]["x"])))
        if st.session_state.get("_tr_last_cell") != cell and all(TRAIN["tr_cell_true"].lo <= v <= TRAIN["tr_cell_true"].hi for v in cell):
            st.session_state["_tr_last_cell"] = cell
            st.session_state["tr_cell_true"], st.session_state["tr_cell_pred"] = cell


def cell_digits(cm: np.ndarray, y_true, y_pred, x_test, names: list[str] | None = None) -> None:
    """A true class and a predicted one: how many test images, and (some of) them."""
    names = names or [str(d) for d in range(10)]
    n = len(names)
    cc1, cc2 = st.columns(2)  # a cell of another data set's matrix (beyond this one's classes) goes back to "any"
    ti = widget(cc1.selectbox, t("train.true"), TRAIN["tr_cell_true"], options=list(range(n)), index=None,
                placeholder=t("train.any"), format_func=lambda i, names=names: names[i] if 0 <= i < n else str(i))
    pi = widget(cc2.selectbox, t("train.predicted"), TRAIN["tr_cell_pred"], options=list(range(n)), index=None,
                placeholder=t("train.any"), format_func=lambda i, names=names: names[i] if 0 <= i < n else str(i))
    if ti is not None and pi is not None:
        idx = cell_indices(y_true, y_pred, ti, pi, limit=24)
        st.caption(t("train.cell_caption", n=int(cm[ti, pi]), true=literal(names[ti]), pred=literal(names[pi])))
        if idx.size:
            chart(figure(figs.gallery, x_test[idx], [f"#{i}" for i in idx]), key="tr_cell_gallery",
                  name=t("train.tab_confusion"))


def kernels_tab(model) -> None:
    """The first convolution's kernels; one of them large, and into the Kernels page's inspector on a digit."""
    w = M.first_conv_weights(model)
    if w is None:
        st.info(t("train.no_kernels"))
        return
    st.markdown(t("train.kernels_text", k=w.shape[0], h=w.shape[2], w=w.shape[3]))
    chart(figure(figs.kernels, w, title_fmt="#{i}"), key="tr_kernels", name=t("train.tab_kernels"))
    kc1, kc2, kc3 = st.columns([1, 1, 1])
    ki = widget(kc1.number_input, t("train.kernel_pick"), TRAIN["tr_ki"], max_value=w.shape[0] - 1)
    di = widget(kc2.number_input, t("train.digit_pick"), TRAIN["tr_di"])
    kc3.write("")
    if kc3.button(t("train.open_inspector"), key="tr_open"):
        st.switch_page("pages/kernels.py", query_params={
            "kn_kernel": "custom", "kn_custom": format_kernel(np.round(w[ki, 0], 3)),
            "kn_src": "mnist", "kn_digit": str(di)})
    chart(figure(heatmap, w[ki, 0], colorscale="RdBu", zmid=0, title=f"#{ki}", x_title=t("common.column"),
                 y_title=t("common.row"), value_label=t("common.value"), number_format=".2f", height=260),
          key="tr_kernel_one")


def features_tab(model, data, names: list[str] | None = None) -> None:
    """One test digit through the network: every feature map, then the probabilities."""
    if data is None:
        st.info(t("train.no_data"))
        return
    fi = widget(st.number_input, t("train.digit_pick"), TRAIN["tr_fi"], max_value=len(data[2]) - 1)
    x = data[2][fi] / 255.0
    p = predict_proba(model, x)
    names = names or [str(d) for d in range(len(p))]
    st.markdown(t("train.features_text", label=literal(names[int(data[3][fi])]), pred=literal(names[int(np.argmax(p))]),
                  p=f"{100 * p.max():.1f}"))
    for name, act in M.feature_maps(model, x):
        a = act.numpy()
        if a.ndim == 3 and "Normalize" not in name:
            chart(figure(figs.feature_grid, a, title=f"{name} → {' × '.join(map(str, a.shape))}"), key=f"tr_fm_{name}")
        elif a.ndim == 1 and a.size <= 128:
            st.caption(f"{name} → {a.size}")
    chart(figure(figs.probabilities, p, x_title=class_word(names), y_title=t("train.probability"), class_names=names),
          key="tr_fm_probs", name=t("train.probability"))


def draw_tab(model, names: list[str] | None = None) -> None:
    """Draw (or upload) a digit: the prediction under the canvas, the probabilities and the 28×28 input beside."""
    st.markdown(t("train.draw_text"))
    d1, d2 = st.columns(2)
    with d1:
        drawing = draw_canvas("tr_canvas", t("train.clear"), label=t("train.canvas_label"))
        result = st.container()  # the prediction right under the canvas: in view on a phone while drawing
        upload = st.file_uploader(t("train.draw_upload"), key="tr_draw_upload",
                                  max_upload_size=limits.mb(limits.UPLOAD_BYTES))
    img = drawing
    if upload is not None:
        try:
            img = decode_upload(upload.getvalue())[0]
        except UserError as exc:
            st.error(t_error(exc))
            img = None
    with result:
        shown = draw_prediction(model, img, names)
    if shown is not None:
        x, p = shown
        with d2:
            chart(figure(figs.probabilities, p, x_title=class_word(names), y_title=t("train.probability"),
                         class_names=names),
                  key="tr_draw_probs", name=t("train.probability"))
            chart(figure(heatmap, np.round(x * 255), colorscale="Greys", zmin=0, zmax=255, numbers=False,
                         title=t("train.preprocessed"), x_title=t("common.column"), y_title=t("common.row"),
                         value_label=t("common.value"), height=300), key="tr_draw_input")
    note(t("train.draw_note"))


def draw_prediction(model, img, names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The predicted digit for a drawing, or a hint; the 28×28 input and the probabilities when there's ink."""
    if img is None:
        st.info(t("train.draw_hint"))
        return None
    x = preprocess_drawing(img)
    if x.max() == 0:
        st.info(t("train.draw_empty"))
        return None
    p = predict_proba(model, x)
    names = names or [str(d) for d in range(len(p))]
    st.markdown(t("train.draw_result", pred=literal(names[int(np.argmax(p))]), p=f"{100 * p.max():.1f}"))
    return x, p


title, intro = st.empty(), st.empty()  # the title and the intro name the data set, which the picker below decides
ui_jobs.warm_up()
runs = kept_runs()
data_key, data = dataset(runs)
title.title(t("train.title") if data_key == datasets.DEFAULT else t(f"train.title_{data_key}"))
intro.markdown(intro_text(data_key, data))
model_name, options, settings, layer_table = setup(data_key)
revealed: dict[str, bool] = {}
if data_key in (datasets.DEFAULT, "fashion"):  # predict first: the questions' answers are for 1×28×28, ten classes
    revealed = ask_all("train", dict(model=model_name, options=options, train_size=settings["train_size"],
                                     batch_size=settings["batch_size"], epochs=settings["epochs"]), "tr")
layer_table(revealed)  # the columns a question waits for are hidden until it is answered or skipped
rejoin_link()
running = controls(runs, data, model_name, options, settings, data_key)


@st.fragment(run_every=1.0 if running else None)  # polls only while a training runs: defined once that is known
def live(runs: list[KeptRun], steps_shown: bool = True) -> None:
    """Polls the job once per second: one small request (progress + heartbeat), then the live curve (the progress line
    leaves out the total of steps while the question ``train.updates`` waits for it)."""
    j: jobs.TrainingJob | None = st.session_state.get("tr_job")
    if j is None:
        return
    view = j.poll()
    latest = view.latest
    if view.state == "running" and "total_steps" in latest:
        ui_jobs.status(view, t("train.progress" if steps_shown else "train.progress_no_total", step=latest["step"],
                               total=latest["total_steps"], eta=f"{latest['eta_seconds']:.0f}",
                               ips=f"{latest['images_per_second']:.0f}", loss=f"{latest['train_loss']:.3f}"))
    elif view.state == "running":
        ui_jobs.status(view, t("train.starting"))
    else:
        ui_jobs.status(view)
    current = {"label": st.session_state.get("tr_job_label", "run"), "history": view.history}
    curves = [{"label": r.label, "history": r.history} for r in runs]
    chart(figs.curves(curves + [current], metric="acc", x_title=t("train.epoch"), y_title=t("train.accuracy"),
                      train_label=t("train.train"), test_label=t("train.test")), key="tr_live_acc",
          name=t("train.accuracy"))
    if view.finished:
        _finish(j, runs)
        st.rerun(scope="app")


live(runs, revealed.get("train.updates", True))
job_messages(runs, model_name, options, settings, data_key, data)
publish_job()
runs_table(runs)
load_weights(runs)
score(runs, data)
if not runs:
    st.info(t("train.train_first"))
    st.stop()
run = pick_run(runs)
inspect(run)
