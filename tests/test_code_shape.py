"""The code's shape: no function of the app or the library is longer than 60 lines (issue 20, step 7).

A function's length runs from its ``def`` line to its last line (a nested function counts in its parent too, and
on its own). Tests and benchmarks are left out: a test reads best as one story, a benchmark as one script.
A longer function is split into named pieces; one that cannot be yet goes into ``EXEMPT`` with the reason.
"""
from __future__ import annotations

import ast
import os
from pathlib import Path

from tests.conftest import ROOT

MAX_LINES = 60
LEFT_OUT = {"tests", "bench"}  # top-level folders not measured
EXEMPT: dict[str, str] = {}  # "path:function" → why it is still longer (none now)


def _sources() -> list[Path]:
    """Every Python file of the app and the library: all below the root but tests/, bench/ and hidden folders."""
    out = []
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not (d.startswith(".") or d in ("__pycache__", "node_modules")
                                           or (here == ROOT and d in LEFT_OUT))]
        out += [here / f for f in files if f.endswith(".py")]
    return sorted(out)


def _long_functions(tree: ast.AST, limit: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """``(name, lines, first line)`` of every function (methods and nested ones included) longer than ``limit``."""
    return sorted((node.name, node.end_lineno - node.lineno + 1, node.lineno) for node in ast.walk(tree)
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.end_lineno - node.lineno + 1 > limit)


def _function(name: str, lines: int, indent: str = "") -> str:
    """A function of exactly ``lines`` lines (``def``, assignments, ``return``), indented by ``indent``."""
    return f"{indent}def {name}():\n" + f"{indent}    x = 1\n" * (lines - 2) + f"{indent}    return x\n"


def test_the_measure_counts_from_def_to_the_last_line():
    assert _long_functions(ast.parse(_function("fits", MAX_LINES))) == []
    over = "@decorated\n" + _function("over", MAX_LINES + 1)  # the decorator's line is not counted
    assert _long_functions(ast.parse(over)) == [("over", MAX_LINES + 1, 2)]
    # a method holding a nested function: both are measured, the method with the nested one's lines in it
    nested = "class C:\n    def method(self):\n" + _function("inner", MAX_LINES + 1, " " * 8) + "        return inner\n"
    assert _long_functions(ast.parse(nested)) == [("inner", MAX_LINES + 1, 3), ("method", MAX_LINES + 3, 2)]


def test_no_function_of_the_app_or_library_is_over_60_lines():
    sources = _sources()
    measured = {p.relative_to(ROOT).parts[0] for p in sources}
    assert {"explainer", "ui", "pages", "streamlit_app.py"} <= measured, measured  # the scan sees the app
    too_long = []
    for path in sources:
        rel = path.relative_to(ROOT).as_posix()
        for name, lines, line in _long_functions(ast.parse(path.read_text(encoding="utf-8"))):
            if f"{rel}:{name}" not in EXEMPT:
                too_long.append(f"{rel}:{line} {name}: {lines} lines")
    assert too_long == [], "split into named pieces (at most 60 lines each):\n" + "\n".join(too_long)


def test_every_exemption_is_still_needed():
    """An entry of ``EXEMPT`` whose function is gone or now fits is taken out, so the list only shrinks."""
    stale = []
    for entry in EXEMPT:
        rel, name = entry.split(":")
        path = ROOT / rel
        if not path.is_file() or name not in {n for n, _, _ in _long_functions(ast.parse(path.read_text("utf-8")))}:
            stale.append(entry)
    assert stale == []
