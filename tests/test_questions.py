"""The lessons' questions (explainer/questions.py): each computed answer against an independent computation
(PyTorch, PIL, plain loops), for several states; check()'s tolerance; the posed question's round trip."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainer.maths import xo
from explainer.i18n import catalogue, translate
from explainer.questions import KINDS, QUESTIONS, Posed, check, question
from ui.nav import LESSONS


def ans(qid: str, **state):
    return question(qid).answer(state)


# ---------------------------------------------------------------- the registry
def test_every_lesson_but_home_asks_two_to_four_questions():
    lessons = [url for *_, url in LESSONS if url not in ("home", "poll")]  # the poll asks the lessons' questions
    assert sorted(QUESTIONS) == sorted(lessons)
    for lesson, qs in QUESTIONS.items():
        assert 2 <= len(qs) <= 4, lesson
        for q in qs:
            assert q.lesson == lesson and q.kind in KINDS and q.id.startswith(lesson + ".")


def test_every_question_has_its_texts_in_both_languages():
    for lang in ("en", "zh"):
        cat = catalogue(lang)
        for qs in QUESTIONS.values():
            for q in qs:
                assert q.prompt in cat and q.explain in cat, (lang, q.id)


# ---------------------------------------------------------------- Images are numbers
@pytest.mark.parametrize("value", [0, 1, 59, 128, 254, 255])
def test_normalised_is_the_grey_level_over_255(value):
    assert abs(ans("images.normalised", value=value) - value / 255) <= 0.0005


@pytest.mark.parametrize("row,col", [(0, 0), (0, 27), (14, 16), (27, 27)])
def test_flat_index_is_where_the_pixel_lands_in_the_flattened_vector(row, col):
    img = np.zeros((28, 28))
    img[row, col] = 1
    assert ans("images.flat_index", row=row, col=col, width=28) == int(np.flatnonzero(img.reshape(-1))[0])


@pytest.mark.parametrize("rgb", [(5, 2, 2), (255, 0, 0), (10, 200, 30), (255, 255, 255), (0, 0, 0)])
def test_grey_is_pils_luma(rgb):
    from PIL import Image

    grey = Image.new("RGB", (1, 1), rgb).convert("L").getpixel((0, 0))
    assert abs(ans("images.grey", rgb=list(rgb)) - grey) <= 1


# ---------------------------------------------------------------- Kernels
@pytest.mark.parametrize("row,col", [(0, 0), (0, 1), (2, 2), (3, 3)])
def test_edge_value_is_torchs_convolution_of_the_step_edge(row, col):
    from explainer.data.images import sample
    from explainer.maths.kernels import kernel

    img = torch.tensor(sample("step_edge"), dtype=torch.float64)[None, None]
    k = torch.tensor(kernel("vertical_edge").weights, dtype=torch.float64)[None, None]
    assert ans("kernels.edge_value", row=row, col=col) == pytest.approx(float(F.conv2d(img, k)[0, 0, row, col]))


@pytest.mark.parametrize("w,kw", [(6, 3), (28, 5), (512, 3), (7, 7), (100, 1)])
def test_out_width_is_torchs(w, kw):
    assert ans("kernels.out_width", w=w, kw=kw) == F.conv2d(torch.zeros(1, 1, kw, w), torch.zeros(1, 1, kw, kw)).shape[-1]


# ---------------------------------------------------------------- X/O
def _window_means(grid: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((7, 7))
    for r in range(7):
        for c in range(7):
            out[r, c] = sum(grid[r + i, c + j] * xo.FILTERS[k][i, j] for i in range(3) for j in range(3)) / 9
    return out


@pytest.mark.parametrize("preset", list(xo.PRESETS))
def test_xo_winner_is_the_larger_vote(preset):
    grid = xo.PRESETS[preset]
    votes = xo.run(grid).votes
    assert ans("xo.winner", grid=xo.grid_text(grid)) == xo.CLASSES[int(np.argmax(votes))]


def test_xo_winner_of_the_clean_letters():
    assert ans("xo.winner", grid=xo.grid_text(xo.X)) == "X"
    assert ans("xo.winner", grid=xo.grid_text(xo.O)) == "O"


@pytest.mark.parametrize("preset", ["x", "o", "x_shifted"])
@pytest.mark.parametrize("k,r,c", [(0, 0, 0), (1, 3, 3), (2, 6, 0), (0, 2, 5)])
def test_xo_map_value_is_the_mean_of_nine_products(preset, k, r, c):
    grid = xo.PRESETS[preset]
    expected = _window_means(grid, k)[r, c]
    got = ans("xo.map_value", grid=xo.grid_text(grid), filter=k, row=r, col=c)
    assert question("xo.map_value").check(got, round(expected, 2)) and abs(got - expected) < 0.006


@pytest.mark.parametrize("preset", list(xo.PRESETS))
@pytest.mark.parametrize("k", [0, 1, 2])
def test_xo_best_cell_lists_every_tied_maximum(preset, k):
    m = _window_means(xo.PRESETS[preset], k)
    expected = sorted([r, c] for r in range(7) for c in range(7) if abs(m[r, c] - m.max()) < 1e-9)
    got = ans("xo.best_cell", grid=xo.grid_text(xo.PRESETS[preset]), filter=k)
    assert sorted(got) == expected
    q = question("xo.best_cell")
    assert all(q.check(cell, got) for cell in expected)
    assert not any(q.check([r, c], got) for r in range(7) for c in range(7) if [r, c] not in expected)


# ---------------------------------------------------------------- Stride & padding
@pytest.mark.parametrize("n,k,s,p,d", [(5, 3, 2, 1, 1), (5, 3, 1, 0, 1), (7, 3, 3, 0, 1), (9, 3, 2, 2, 2), (6, 5, 1, 2, 1),
                                       (28, 7, 4, 3, 1)])
def test_out_size_is_torchs(n, k, s, p, d):
    out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    assert ans("stride.out_size", n=n, k=k, s=s, p=p, d=d) == out.shape[-1]


@pytest.mark.parametrize("k,c,f", [(2, 3, 3), (1, 1, 1), (4, 3, 5), (16, 8, 3)])
def test_conv_params_are_torchs(k, c, f):
    layer = torch.nn.Conv2d(c, k, f)
    assert ans("stride.params", kernels=k, channels=c, f=f) == sum(p.numel() for p in layer.parameters())


@pytest.mark.parametrize("n,k,s,p,op", [(3, 3, 2, 0, 0), (3, 3, 2, 1, 1), (4, 2, 2, 0, 0), (2, 4, 3, 1, 2)])
def test_transposed_size_is_torchs(n, k, s, p, op):
    out = F.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, output_padding=op)
    assert ans("stride.transposed_size", n=n, k=k, s=s, p=p, op=op) == out.shape[-1]


# ---------------------------------------------------------------- Pooling
@pytest.mark.parametrize("n,f,s,p,ceil", [(6, 2, 2, 0, False), (7, 2, 2, 0, True), (7, 3, 2, 1, False), (5, 3, 2, 1, True),
                                          (9, 3, 3, 0, False)])
def test_pool_out_size_is_torchs(n, f, s, p, ceil):
    out = F.max_pool2d(torch.zeros(1, 1, n, n), f, s, p, ceil_mode=ceil)
    assert ans("pooling.out_size", n=n, f=f, s=s, p=p, ceil=ceil) == out.shape[-1]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("f,s,p,include", [(2, 2, 0, True), (3, 2, 1, True), (3, 2, 1, False), (2, 1, 1, False)])
def test_first_window_is_torchs_first_pooled_value(mode, f, s, p, include):
    x = np.random.default_rng(f * 10 + p).integers(-5, 9, (6, 6)).astype(float)
    t = torch.tensor(x)[None, None]
    ref = (F.max_pool2d(t, f, s, p) if mode == "max"
           else F.avg_pool2d(t, f, s, p, count_include_pad=include))[0, 0, 0, 0].item()
    got = ans("pooling.first_window", x=x.tolist(), f=f, s=s, p=p, ceil=False, include=include, mode=mode)
    assert got == pytest.approx(round(ref, 2))


@pytest.mark.parametrize("which", ["x", "o"])
@pytest.mark.parametrize("dy,dx", [(0, 0), (1, 0), (0, 1), (2, 2), (3, 0)])
def test_peak_kept_compares_each_maps_strongest_pooled_value(which, dy, dx):
    base = xo.X if which == "x" else xo.O
    moved = np.full_like(base, -1.0)
    moved[dy:, dx:] = base[:9 - dy, :9 - dx]

    def peaks(g):
        maps = torch.tensor(np.stack([_window_means(g, k) for k in range(3)]))[None]
        return F.max_pool2d(maps, 2, 2, ceil_mode=True)[0].amax(dim=(1, 2)).numpy()

    same = np.allclose(peaks(base), peaks(moved))
    assert ans("pooling.peak_kept", which=which, dy=dy, dx=dx) == ("yes" if same else "no")


# ---------------------------------------------------------------- Optimizers: the race by torch.optim
RACES = [
    dict(surface="rosenbrock", kappa=10.0, runs=[["sgd", [["lr", 0.001]]], ["adam", [["lr", 0.05]]]],
         start=[-1.5, 2.0], steps=400, noise=0.0, seed=0),
    dict(surface="quadratic", kappa=10.0, runs=[["sgd", [["lr", 0.05]]], ["momentum", [["lr", 0.01]]],
                                                ["adam", [["lr", 0.1]]]], start=[2.0, 1.5], steps=300, noise=0.0, seed=0),
    dict(surface="himmelblau", kappa=10.0, runs=[["sgd", [["lr", 0.01]]], ["rmsprop", [["lr", 0.01]]]],
         start=[0.0, 0.0], steps=200, noise=0.1, seed=3),
]


def _torch_race(state):
    from explainer.learning import optim

    name = state["surface"]
    surf = optim.surface(name, kappa=state["kappa"]) if name == "quadratic" else optim.surface(name)
    runs = [(r[0], dict(r[1])) for r in state["runs"]]
    paths = optim.race_torch(surf, runs, tuple(state["start"]), state["steps"], state["noise"], state["seed"])
    return [(r[0], optim.summarise(surf, p)) for r, p in zip(runs, paths)]


@pytest.mark.parametrize("state", RACES)
def test_first_to_the_minimum_and_lowest_final_loss_agree_with_torch_optim(state):
    summaries = _torch_race(state)
    reached = [(s["steps_to_tol"], n) for n, s in summaries if s["steps_to_tol"] is not None]
    first = min(reached)[1] if reached else "none"
    assert ans("optimizers.first", **state) == first
    finals = [(s["final_loss"] if not s["diverged"] else math.inf, n) for n, s in summaries]
    assert ans("optimizers.lowest", **state) == min(finals)[1]
    p = question("optimizers.first").pose(state)
    assert p.choices == (*[r[0] for r in state["runs"]], "none")


# ---------------------------------------------------------------- How kernels learn: autograd
HANDS = [dict(input="small", kernel="vertical_edge", target="sharpen", bias=0.0, stride=1, padding=0),
         dict(input="step_edge", kernel="sobel_x", target="box_blur_3", bias=1.5, stride=2, padding=1),
         dict(input="digit", kernel="identity", target="vertical_edge", bias=-2.0, stride=1, padding=1)]


@pytest.mark.parametrize("state", HANDS)
def test_grad_b_and_output_count_agree_with_autograd(state):
    from explainer.learning import backprop as bp
    from explainer.maths.kernels import kernel

    x = torch.tensor(bp.hand_input(state["input"]), dtype=torch.float64)[None, None]
    w = torch.tensor(kernel(state["kernel"]).weights, dtype=torch.float64)[None, None]
    tw = torch.tensor(kernel(state["target"]).weights, dtype=torch.float64)[None, None]
    b = torch.tensor([state["bias"]], dtype=torch.float64, requires_grad=True)
    y = F.conv2d(x, w, b, stride=state["stride"], padding=state["padding"])
    target = F.conv2d(x, tw, stride=state["stride"], padding=state["padding"])
    (0.5 * ((y - target) ** 2).sum()).backward()
    assert ans("backprop.grad_b", **state) == pytest.approx(round(float(b.grad[0]), 2))
    assert ans("backprop.y_size", **state) == y.numel()


# ---------------------------------------------------------------- Train
@pytest.mark.parametrize("model,options", [("fast", {}), ("lenet5", {}), ("mlp", {}),
                                           ("custom", {"blocks": 3, "channels": 8, "kernel_size": 5})])
def test_model_questions_agree_with_a_forward_pass_and_the_layer_table(model, options):
    from explainer.learning import models as M

    net = M.build_model(model, **options)
    total = M.summary(net, "total")[-1]["params"]
    assert ans("train.params", model=model, options=options) == total
    x = torch.zeros(1, 1, 28, 28)
    first = None
    for layer in M._layers(net) if hasattr(M, "_layers") else net.children():
        x = layer(x)
        if tuple(x.shape[1:]) != (1, 28, 28):
            first = x[0].numel()
            break
    if model == "mlp":  # a flatten first: the answer, 784, is the prompt's 28×28 and in the model's name: not asked
        assert x.dim() == 2 and first == 784
        with pytest.raises(ValueError):
            question("train.first_values").pose({"model": model, "options": options})
        return
    assert ans("train.first_values", model=model, options=options) == first


@pytest.mark.parametrize("n,bs,epochs", [(60000, 128, 1), (1000, 64, 3), (10, 128, 2), (100, 100, 5), (999, 100, 1)])
def test_updates_count_the_whole_batches(n, bs, epochs):
    per_epoch = 0
    taken = 0
    bs_ = min(bs, n)
    while taken + bs_ <= n:  # whole batches only
        taken += bs_
        per_epoch += 1
    assert ans("train.updates", train_size=n, batch_size=bs, epochs=epochs) == max(per_epoch, 1) * epochs


def test_updates_of_a_fractional_training_take_either_whole_number_next_to_the_product():
    q = question("train.updates")
    p = q.pose({"train_size": 60000, "batch_size": 64, "epochs": 2.5})  # 937 batches × 2.5 = 2342.5
    assert p.answer == 2342.5 and p.explain == "questions.train.updates_why_part"
    assert p.explain_params["answer"] == 2342 and p.explain_params["exact"] == "2342.5"  # the training's round()
    assert [p.check(v) for v in (2341, 2342, 2342.5, 2343, 2344)] == [False, True, True, True, False]
    p = q.pose({"train_size": 60000, "batch_size": 64, "epochs": 1.25})  # 1171.25: only the nearest
    assert [p.check(v) for v in (1171, 1172)] == [True, False]
    p = q.pose({"train_size": 60000, "batch_size": 128, "epochs": 2.5})  # 468 × 2.5 = 1170: whole, exact
    assert p.answer == 1170 and p.tolerance == 0 and p.explain == "questions.train.updates_why"
    for lang in ("en", "zh"):
        assert "2342.5" in translate("questions.train.updates_why_part", lang, n=60000, bs=64, epochs=2.5,
                                     per_epoch=937, exact="2342.5", answer=2342)


# ---------------------------------------------------------------- Inside the network
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prediction_and_confidence_are_softmaxs(seed):
    logits = torch.randn(10, generator=torch.Generator().manual_seed(seed)) * 3
    probs = torch.softmax(logits, 0)
    state = {"probs": [round(float(v), 4) for v in probs]}
    assert ans("network.predicted", **state) == int(torch.argmax(logits))
    assert ans("network.confidence", **state) == pytest.approx(100 * float(probs.max()), abs=0.06)


# ---------------------------------------------------------------- check() and the posed question's round trip
def test_check_numbers_within_the_tolerance_only():
    assert check("number", 3, 3) and check("number", "3", 3.0) and check("number", 3.004, 3, 0.005)
    assert not check("number", 3.01, 3, 0.005) and not check("number", 4, 3)
    assert check("number", 55, 50, 5) and check("number", 45, 50, 5) and not check("number", 55.1, 50, 5)
    for bad in (None, "abc", float("nan"), float("inf"), [3]):
        assert not check("number", bad, 3, 1)


def test_check_choices_and_cells():
    assert check("choice", "X", "X") and not check("choice", "O", "X") and not check("choice", None, "X")
    assert check("cell", [3, 3], [[3, 3], [1, 2]]) and check("cell", (1, 2), [[3, 3], [1, 2]])
    assert not check("cell", [2, 1], [[3, 3], [1, 2]]) and not check("cell", None, [[3, 3]])
    assert not check("cell", ["a", 1], [[3, 3]]) and not check("cell", [3], [[3, 3]])
    with pytest.raises(ValueError):
        check("essay", "x", "x")


SAMPLE_STATES = {
    "images.normalised": {"value": 59}, "images.flat_index": {"row": 14, "col": 16, "width": 28},
    "images.grey": {"rgb": [5, 2, 2]}, "kernels.edge_value": {"row": 0, "col": 1}, "kernels.out_width": {"w": 512, "kw": 3},
    "xo.winner": {"grid": xo.grid_text(xo.X)}, "xo.map_value": {"grid": xo.grid_text(xo.O), "filter": 0, "row": 0, "col": 0},
    "xo.best_cell": {"grid": xo.grid_text(xo.O), "filter": 1},
    "stride.out_size": {"n": 5, "k": 3, "s": 2, "p": 1, "d": 1}, "stride.params": {"kernels": 2, "channels": 3, "f": 3},
    "stride.transposed_size": {"n": 3, "k": 3, "s": 2, "p": 0, "op": 0},
    "pooling.out_size": {"n": 6, "f": 2, "s": 2, "p": 0, "ceil": False},
    "pooling.first_window": {"x": [[1, 2], [3, 4]], "f": 2, "s": 2, "p": 0, "ceil": False, "include": True, "mode": "max"},
    "pooling.peak_kept": {"which": "o", "dy": 1, "dx": 1},
    "optimizers.first": RACES[1], "optimizers.lowest": RACES[1],
    "backprop.grad_b": HANDS[0], "backprop.y_size": HANDS[1],
    "train.params": {"model": "lenet5"}, "train.first_values": {"model": "fast"},
    "train.updates": {"train_size": 1000, "batch_size": 64, "epochs": 3},
    "network.predicted": {"probs": [0.05] * 9 + [0.55]}, "network.confidence": {"probs": [0.05] * 9 + [0.55]},
}


def test_every_question_has_a_sample_state():
    assert sorted(SAMPLE_STATES) == sorted(q.id for qs in QUESTIONS.values() for q in qs)


@pytest.mark.parametrize("qid", sorted(SAMPLE_STATES))
def test_a_posed_question_survives_json_and_checks_the_same(qid):
    p = question(qid).pose(SAMPLE_STATES[qid])
    d = json.loads(json.dumps(p.to_dict()))
    assert set(d) >= {"id", "lesson", "kind", "prompt", "params", "choices", "answer", "explain", "explain_params"}
    back = Posed.from_dict(d)
    assert back == p
    right = p.answer[0] if p.kind == "cell" else p.answer
    assert back.check(right) and p.check(right)
    wrong = {"number": (p.answer + 2 * p.tolerance + 1) if p.kind == "number" else None,
             "choice": next((c for c in p.choices if c != p.answer), "?"), "cell": [-1, -1]}[p.kind]
    assert not back.check(wrong)
    if p.kind == "choice":
        assert p.answer in p.choices
    assert len(json.dumps(d)) < 4000  # small enough for a poll to keep one per question (a surface's figure: ~2.8 kB)


def test_from_dict_refuses_an_unknown_kind():
    d = question("stride.out_size").pose(SAMPLE_STATES["stride.out_size"]).to_dict()
    with pytest.raises(ValueError):
        Posed.from_dict({**d, "kind": "essay"})


def test_a_tally_round_trips_through_its_url_text_and_bad_text_is_refused():
    """One letter per registered question (r/w/s, "-" for none), trailing "-" left off; refused: a letter it doesn't
    know, text longer than the registry (checked before the letters are read)."""
    from explainer.questions import _ALL, OUTCOMES, TALLY_CHARS, parse_tally, tally_text

    assert TALLY_CHARS == len(_ALL) and parse_tally("") == {} and tally_text({}) == ""
    for shift in range(4):  # each question with each outcome, and some unanswered
        tally: dict = {}
        for i, q in enumerate(_ALL):
            outcome = (OUTCOMES + (None,))[(i + shift) % 4]
            if outcome:
                tally.setdefault(q.lesson, {})[q.id] = outcome
        text = tally_text(tally)
        assert len(text) <= TALLY_CHARS and not text.endswith("-")
        assert parse_tally(text) == tally
    last = _ALL[-1]
    assert tally_text({last.lesson: {last.id: "wrong"}}) == "-" * (len(_ALL) - 1) + "w"
    for bad in ("x", "r?", "R", "r" * (TALLY_CHARS + 1), "1", " r"):
        with pytest.raises(ValueError):
            parse_tally(bad)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_networks_two_reveals_give_nothing_of_each_other_away(lang):
    """Inside the network asks both at once: the class's reveal has no probability, the probability's no class."""
    from explainer.i18n import translate

    probs = [0.01] * 10
    probs[3], probs[8] = 0.83, 0.08
    pred, conf = (question(q).pose({"probs": probs}) for q in ("network.predicted", "network.confidence"))
    pred_why = translate(pred.explain, lang, **pred.explain_params)
    conf_why = translate(conf.explain, lang, **conf.explain_params)
    assert pred.answer == 3 and "3" in pred_why and "83" not in pred_why
    assert conf.answer == pytest.approx(83.0) and "83.0" in conf_why and "3" not in conf_why.replace("83.0", "")
