"""MNIST beside Fashion-MNIST (issue 23's speed goal): the default fast CNN and the MLP baseline on each data set,
with the app's default settings, and both on shifted test images.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/datasets.py [--epochs 1,2,3] [--datasets mnist,fashion]
    ... bench/datasets.py --threads 2          # as on the 2-core machine the goal is stated for

For each data set and each epoch count (one-cycle needs the length up front: one run per count) it trains the fast
CNN and prints the test accuracy on all 10,000 test images, the training time (evaluation excluded) and images/s;
then the MLP (its preset: Adam 1e-3, batch 64, no one-cycle) for the largest count, the CNN − MLP gap, and the
accuracy of both on the first 2,000 test images shifted 0…6 pixels (``explainer.learning.shift.shifted_accuracy``).
Goal: Fashion-MNIST ≥ 91 % with the fast CNN in ≤ 30 s of training. ``--json`` prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import common  # noqa: F401 — the repository on sys.path, MNIST_DIR

GOAL_ACC, GOAL_SECONDS = 0.91, 30.0


def run(dataset: str, epochs: list[float], shift_images: int) -> dict:
    from explainer.data import datasets
    from explainer.learning.shift import SHIFTS, shifted_accuracy
    from explainer.learning.train import TrainConfig, train

    data = datasets.get(dataset).load_all()
    out = {"dataset": dataset, "cnn": [], "mlp": None}
    cnn = None
    # the data set's recipe for the fast CNN (Fashion-MNIST's optimizer and learning rate: datasets.train_defaults), the
    # epochs swept; the process CPU time of each training too (on a shared machine wall time is inflated)
    recipe = {k: v for k, v in datasets.train_defaults(dataset).items() if k != "epochs"}
    for e in epochs:
        cpu0 = time.process_time()
        res = train(TrainConfig(model="fast", epochs=e, device="cpu", evals_per_epoch=1, dataset=dataset, **recipe), data)
        cpu, load = time.process_time() - cpu0, os.getloadavg()[0]  # CPU: the whole call, evaluations included
        out["cnn"].append({"epochs": e, "test_accuracy": res.test_accuracy, "train_seconds": res.train_seconds,
                           "images_per_second": res.images_per_second, "cpu_seconds": cpu, "load_average": load,
                           "recipe": recipe})
        cnn = res
        print(f"{dataset:8s} fast CNN {e:g} epoch(s) {recipe or ''}: {100 * res.test_accuracy:.2f} % in "
              f"{res.train_seconds:.1f} s ({res.images_per_second:,.0f} images/s; process CPU {cpu:.1f} s, "
              f"load average {load:.2f})", flush=True)
    mlp = train(TrainConfig(model="mlp", optimizer="adam", lr=0.001, one_cycle=False, batch_size=64,
                            epochs=max(epochs), device="cpu", evals_per_epoch=1, dataset=dataset), data)
    out["mlp"] = {"epochs": max(epochs), "test_accuracy": mlp.test_accuracy, "train_seconds": mlp.train_seconds}
    print(f"{dataset:8s} MLP      {max(epochs)} epoch(s): {100 * mlp.test_accuracy:.2f} % in {mlp.train_seconds:.1f} s; "
          f"CNN − MLP: {100 * (cnn.test_accuracy - mlp.test_accuracy):+.2f} points", flush=True)
    x, y = data[2][:shift_images], data[3][:shift_images]
    out["shifts"] = list(SHIFTS)
    out["shift_cnn"] = shifted_accuracy(cnn.model, x, y)
    out["shift_mlp"] = shifted_accuracy(mlp.model, x, y)
    print(f"{dataset:8s} shift 0…6 px, CNN: " + " ".join(f"{100 * a:.1f}" for a in out["shift_cnn"]))
    print(f"{dataset:8s} shift 0…6 px, MLP: " + " ".join(f"{100 * a:.1f}" for a in out["shift_mlp"]), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="mnist,fashion")
    ap.add_argument("--epochs", default="1,2,3", help="epoch counts of the fast CNN, comma-separated (2.5: two and a half)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--shift-images", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    results = [run(d, [float(e) for e in args.epochs.split(",")], args.shift_images) for d in args.datasets.split(",")]
    for r in results:
        if r["dataset"] == "fashion":
            ok = [c for c in r["cnn"] if c["test_accuracy"] >= GOAL_ACC and c["train_seconds"] <= GOAL_SECONDS]
            print(f"goal (Fashion-MNIST ≥ {100 * GOAL_ACC:.0f} % in ≤ {GOAL_SECONDS:.0f} s): "
                  + (f"met with {ok[0]['epochs']} epoch(s)" if ok else "not met"))
    print(f"(threads: {torch.get_num_threads()}, wall {time.perf_counter() - t0:.0f} s)")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
