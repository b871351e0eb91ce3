"""The lessons in learning order: (page file, catalogue key of its title, icon, URL path)."""

LESSONS = [
    ("pages/home.py", "nav.home", ":material/home:", "home"),
    ("pages/images.py", "nav.images", ":material/grid_on:", "images"),
    ("pages/kernels.py", "nav.kernels", ":material/blur_on:", "kernels"),
    ("pages/xo.py", "nav.xo", ":material/close:", "xo"),
    ("pages/stride.py", "nav.stride", ":material/open_with:", "stride"),
    ("pages/pooling.py", "nav.pooling", ":material/compress:", "pooling"),
    ("pages/optimizers.py", "nav.optimizers", ":material/trending_down:", "optimizers"),
    ("pages/train.py", "nav.train", ":material/model_training:", "train"),
]


def available_lessons() -> list[tuple[str, str, str, str]]:
    """The lessons whose page file exists (pages not built yet are absent, never placeholders)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return [lesson for lesson in LESSONS if (root / lesson[0]).exists()]
