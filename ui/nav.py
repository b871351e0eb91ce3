"""The lessons in learning order, the one list of them: (page file, catalogue key of its title, icon, URL path).

Everything else that goes per lesson derives from it: the navigation (``streamlit_app.py``), the declared tables
(``ui.tables.PAGES``) and so ``ui.boot``'s list of them, the page walks of the tests and benches, and what a lesson
must have (``tests/test_lessons.py``; the recipe in CONTRIBUTING.md). A lesson's name is its URL path, the stem of its
page file, its table (``ui/tables/<name>.py``) and its catalogue files (``explainer/locales/*/<name>.toml``).

Icons are emoji, not ``:material/...:`` names: Streamlit fetches a material icon's favicon from
Google's font CDN, and the app must work in a lecture hall without internet.
"""
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]  # the app's folder (pages/ lies in it)


class Lesson(NamedTuple):
    path: str  # the page file
    title: str  # the catalogue key of its title in the navigation
    icon: str
    url: str  # the URL path: the lesson's name

    @property
    def name(self) -> str:
        return self.url


LESSONS = [
    Lesson("pages/home.py", "nav.home", "🏠", "home"),
    Lesson("pages/images.py", "nav.images", "🔢", "images"),
    Lesson("pages/kernels.py", "nav.kernels", "🔍", "kernels"),
    Lesson("pages/xo.py", "nav.xo", "❌", "xo"),
    Lesson("pages/stride.py", "nav.stride", "👣", "stride"),
    Lesson("pages/pooling.py", "nav.pooling", "🗜️", "pooling"),
    Lesson("pages/optimizers.py", "nav.optimizers", "📉", "optimizers"),
    Lesson("pages/backprop.py", "nav.backprop", "🔁", "backprop"),
    Lesson("pages/train.py", "nav.train", "🧠", "train"),
    Lesson("pages/network.py", "nav.network", "🔬", "network"),
    Lesson("pages/poll.py", "nav.poll", "🗳️", "poll"),  # class polls: a lecturer asks, the room answers
]


def names() -> list[str]:
    """The lessons' names in learning order (``"home"``, ``"images"``, …)."""
    return [lesson.name for lesson in LESSONS]


def available_lessons() -> list[tuple[str, str, str, str]]:
    """The lessons whose page file exists (pages not built yet are absent, never placeholders)."""
    return [lesson for lesson in LESSONS if (ROOT / lesson[0]).exists()]


# Lessons whose name in the navigation follows the data set chosen on Train (issue 23): the widget key of the choice.
# Another data set's name is the title's key with the data set's suffix (nav.train_fashion, nav.train_own).
DATASET_TITLES = {"nav.train": "tr_dataset"}
DATASET_SUFFIXES = ("fashion", "own")  # explainer.data.datasets' other choices than MNIST (tests/test_nav_title.py)


def chosen_dataset(session: dict, kept: dict, query: dict, key: str = "tr_dataset") -> str | None:
    """The data set chosen on Train as the navigation can know it before the page runs: the widget's value (this
    session, on the Train page), else a link's ``?tr_dataset=``, else the value kept when the learner left Train."""
    for value in (session.get(key), query.get(key), kept.get(key)):
        if isinstance(value, str) and value:
            return value
    return None


def title_key(key: str, dataset: str | None) -> str:
    """The catalogue key of a lesson's name in the navigation: "Train on Fashion-MNIST" when that is the set chosen,
    the plain key for MNIST, an unknown value or none."""
    return f"{key}_{dataset}" if key in DATASET_TITLES and dataset in DATASET_SUFFIXES else key
