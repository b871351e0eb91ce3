"""Settings declared by the shared helpers, for the key prefix a page gives them.

``ui.images`` (the image picker, an image region), ``ui.stepper`` (the step-through control and a
random grid's size) and ``ui.shell.lesson_views`` create these settings; a page lists the same calls in
its table, so the helper and the table declare one and the same ``Param`` objects.
"""
from __future__ import annotations

from explainer.data import images
from ui.state import Param

SPEEDS = (0.5, 1.0, 2.0, 4.0)  # a stepper's steps per second
DIGIT_MAX = 9999  # the MNIST test set's last index
SIDE_MAX = images.MAX_SIDE  # an image's longest side (a region's size and corner lie below it)


def view_param(key: str, views) -> Param:
    """A lesson's switch between its views (``ui.shell.lesson_views``): the first view by default."""
    return Param(key, "choice", views[0], options=tuple(views))


def picker_options(allow_upload: bool = True, allow_mnist: bool = True,
                   samples=None) -> tuple[str, ...]:
    return tuple(samples or images.SAMPLES) + (("mnist",) if allow_mnist else ()) + (("upload",) if allow_upload else ())


def picker_params(prefix: str, default: str = "camera", allow_upload: bool = True, allow_mnist: bool = True,
                  samples=None) -> dict[str, Param]:
    """The image picker's settings (``ui.images.image_picker``): ``{prefix}_src`` and ``{prefix}_digit``."""
    src = Param(f"{prefix}_src", "choice", default, options=picker_options(allow_upload, allow_mnist, samples))
    found = {"src": src}
    if allow_mnist:
        found["digit"] = Param(f"{prefix}_digit", "int", 0, lo=0, hi=DIGIT_MAX, step=1)
    return found


def region_params(key_prefix: str, default_size: int = 8) -> dict[str, Param]:
    """A square region of an image (``ui.images.image_region``): the picker's, ``_crop``, ``_top``, ``_left``."""
    return {**{f"img_{k}": p for k, p in picker_params(f"{key_prefix}_img").items()},
            "crop": Param(f"{key_prefix}_crop", "int", default_size, lo=1, hi=SIDE_MAX),
            "top": Param(f"{key_prefix}_top", "int", 0, lo=0, hi=SIDE_MAX),
            "left": Param(f"{key_prefix}_left", "int", 0, lo=0, hi=SIDE_MAX)}


def stepper_params(prefix: str, speeds=SPEEDS, default_speed: float = 1.0) -> dict[str, Param]:
    """The stepper's settings (``ui.stepper.stepper``): the position ``{prefix}_pos`` (in the URL while not
    playing) and the speed ``{prefix}_speed``."""
    return {"pos": Param(f"{prefix}_pos", "int", 1, lo=1),
            "speed": Param(f"{prefix}_speed", "choice", default_speed, options=tuple(speeds))}


def grid_params(key_prefix: str, default_size: int) -> dict[str, Param]:
    """A random grid's height, width and seed (``ui.stepper.grid_controls``)."""
    return {"h": Param(f"{key_prefix}_h", "int", default_size, lo=2, hi=12),
            "w": Param(f"{key_prefix}_w", "int", default_size, lo=2, hi=12),
            "seed": Param(f"{key_prefix}_seed", "int", 0, lo=0, hi=999)}


def question_key(prefix: str, qid: str) -> str:
    """The widget key prefix of question ``qid``'s card on a page whose keys start with ``prefix`` (``ui.questions``)."""
    return f"{prefix}_q_{qid.replace('.', '_')}"


def question_params(lesson: str, prefix: str) -> dict[str, Param]:
    """The answer widgets of ``lesson``'s question cards (``ui.questions.ask``), session only (a learner's answers never
    go into the URL): a number question's ``…_in`` (a real number within ±``limits.QUESTION_NUMBER_ABS``, nothing
    typed yet: None), a choice question's ``…_in`` (every choice it may offer), a cell question's row ``…_r`` and
    column ``…_c``."""
    from explainer import limits
    from explainer.questions import QUESTIONS

    found = {}
    for q in QUESTIONS[lesson]:
        key = question_key(prefix, q.id)
        if q.kind == "number":
            found[q.id] = Param(f"{key}_in", "float", None, lo=-float(limits.QUESTION_NUMBER_ABS),
                                hi=float(limits.QUESTION_NUMBER_ABS), url=False, optional=True)
        elif q.kind == "choice":
            found[q.id] = Param(f"{key}_in", "choice", None, options=q.may_offer(), url=False, optional=True)
        else:
            for part in ("r", "c"):
                found[f"{q.id}_{part}"] = Param(f"{key}_{part}", "int", None, lo=0, hi=limits.QUESTION_GRID_SIDE - 1,
                                                step=1, url=False, optional=True)
    return found
