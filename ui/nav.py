"""The lessons in learning order: (page file, catalogue key of its title, icon, URL path).

Icons are emoji, not ``:material/...:`` names: Streamlit fetches a material icon's favicon from
Google's font CDN, and the app must work in a lecture hall without internet.
"""

LESSONS = [
    ("pages/home.py", "nav.home", "🏠", "home"),
    ("pages/images.py", "nav.images", "🔢", "images"),
    ("pages/kernels.py", "nav.kernels", "🔍", "kernels"),
    ("pages/xo.py", "nav.xo", "❌", "xo"),
    ("pages/stride.py", "nav.stride", "👣", "stride"),
    ("pages/pooling.py", "nav.pooling", "🗜️", "pooling"),
    ("pages/optimizers.py", "nav.optimizers", "📉", "optimizers"),
    ("pages/backprop.py", "nav.backprop", "🔁", "backprop"),
    ("pages/train.py", "nav.train", "🧠", "train"),
    ("pages/network.py", "nav.network", "🔬", "network"),
]


def available_lessons() -> list[tuple[str, str, str, str]]:
    """The lessons whose page file exists (pages not built yet are absent, never placeholders)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return [lesson for lesson in LESSONS if (root / lesson[0]).exists()]
