"""The library/page split: explainer/ never imports Streamlit (it runs in notebooks, the CLI and workers)."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import explainer

ROOT = Path(__file__).resolve().parents[1]


def test_importing_every_explainer_module_loads_no_streamlit():
    modules = sorted(m.name for m in pkgutil.walk_packages(explainer.__path__, "explainer."))
    assert {"explainer.maths.conv", "explainer.learning.train", "explainer.figures.stepper", "explainer.maths.formulas"} <= set(modules)
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
