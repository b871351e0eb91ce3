"""The library's layers: every import in explainer/ (function-local ones too) goes down, and none forms a circle.

    base (errors, limits, i18n)  <  maths/, data/  <  learning/, figures/  <  engine/, questions  <  polls

A module may import modules of a lower layer, and modules of its own package (``maths/`` from ``maths/``),
never a sibling of the same layer (``maths/`` ↔ ``data/``) nor anything above. The graph, read with the AST
from the files, must have no cycle: a cycle held together by a function-local import is still a cycle.
"""
from __future__ import annotations

import ast
import unittest.mock as mock
from pathlib import Path

from tests.conftest import ROOT

LIB = ROOT / "explainer"
RANK = {"base": 0, "maths": 1, "data": 1, "learning": 2, "figures": 2, "engine": 3, "questions": 3, "polls": 4}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in LIB.rglob("*.py") if "__pycache__" not in p.parts}


def _package(module: str) -> str:
    """``explainer.maths.conv`` → ``maths``; the top-level base modules and the root → ``base``."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in RANK:
        return parts[1]
    return "base"


def _imports(path: Path, module: str, known: dict[str, Path]) -> set[str]:
    """The explainer modules ``path`` imports, anywhere in it (module level or inside a function)."""
    out = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "explainer")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "explainer":
                continue
            for a in node.names:  # ``from explainer.maths import conv`` imports the module explainer.maths.conv
                sub = f"{target}.{a.name}"
                out.add(sub if sub in known else target)
    return {m for m in out if m != module}


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {m: {t for t in _imports(p, m, known) if t in known} for m, p in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each a list of its modules."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_reader_finds_imports_of_every_form():
    """The checker itself: module-level, function-local, ``from package import module`` and relative imports."""
    src = ("from explainer.maths import conv\nimport explainer.data.mnist\n"
           "def f():\n    from explainer.learning.train import TrainConfig\n    from . import kernels\n")
    path = LIB / "maths" / "_probe_not_a_file.py"
    known = {"explainer.maths.conv": path, "explainer.data.mnist": path, "explainer.learning.train": path,
             "explainer.maths.kernels": path}
    with mock.patch.object(Path, "read_text", return_value=src):
        found = _imports(path, "explainer.maths._probe_not_a_file", known)
    assert found == {"explainer.maths.conv", "explainer.data.mnist", "explainer.learning.train",
                     "explainer.maths.kernels"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_package_says_what_lives_there_and_what_it_may_import():
    for package in RANK:
        if package in ("base", "questions", "polls"):
            continue
        doc = ast.get_docstring(ast.parse((LIB / package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "May import" in doc, package


def test_imports_only_go_down():
    wrong = []
    for module, targets in _graph().items():
        mine = _package(module)
        for target in targets:
            theirs = _package(target)
            if theirs == mine:
                continue
            if RANK[theirs] >= RANK[mine]:
                wrong.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles_even_through_function_local_imports():
    assert _cycles(_graph()) == []


def test_the_library_never_imports_streamlit():
    for path in LIB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "streamlit" for n in names), path
