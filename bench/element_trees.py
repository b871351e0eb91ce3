"""Every page's AppTest element tree at its defaults, in en and zh, as stable JSON — the instrument of "no behaviour
change" for refactors (issue 20): dump the tree before and after, then compare.

    MNIST_DIR=../shared/mnist .venv/bin/python bench/element_trees.py /tmp/after.json
    # the same pages from another checkout's code (its folder first on sys.path and the working folder)
    git worktree add /tmp/old 3c5425d && .venv/bin/python bench/element_trees.py --root /tmp/old /tmp/before.json
    .venv/bin/python bench/element_trees.py --compare /tmp/before.json /tmp/after.json   # exit 1 on a difference

Per page (the entry script with its sidebar, then every lesson of ``ui.nav``), per language, and per "predict
first" setting (off: lessons show everything, as the page tests see them; on: with the question cards), in order:
every block (columns, expanders, tabs …) and element with its type and its whole protobuf message (label, value,
options, min/max, help, disabled, markdown body, caption …), the widget's current value, and for a chart its trace
types, title and a hash of the figure JSON with volatile parts (``uirevision``, ``uid``) removed. Element ids
are kept apart, as the page's widget keys (an id's hash part depends on the checkout's path), under ``"keys"``: a
key rename changes no visible content, and ``--compare`` reports key differences separately; only visible differences make it exit 1 (``--strict``: keys too).

Nothing volatile is left: kept runs go to a fresh empty folder, the engine is not warmed up, and ids of media files
are their content's hash. Run twice on one tree, the dumps are identical.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
VOLATILE_FIGURE_KEYS = {"uirevision", "uid"}
ID_FIELDS = {"id", "form_id"}  # element ids: hashes of the widget's key and arguments (reported under "keys")
LONG = 4000  # a string longer than this (a data URL, base64 bytes, an <svg>) is kept as its length and hash


def _digest(text: str | bytes) -> str:
    return hashlib.sha256(text if isinstance(text, bytes) else text.encode()).hexdigest()[:16]


def _strip(obj):
    """A figure dict without its volatile keys, at any depth."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE_FIGURE_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _figure(spec: str) -> dict:
    fig = _strip(json.loads(spec))
    layout = fig.get("layout", {})
    title = layout.get("title")
    title = title.get("text") if isinstance(title, dict) else title
    return {"traces": [tr.get("type", "scatter") for tr in fig.get("data", [])], "title": title,
            "frames": len(fig.get("frames") or []),
            "hash": _digest(json.dumps(fig, sort_keys=True, separators=(",", ":")))}


def _shorten(obj):
    if isinstance(obj, dict):
        return {k: _shorten(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shorten(v) for v in obj]
    if isinstance(obj, str) and len(obj) > LONG:
        return {"long_text": len(obj), "hash": _digest(obj)}
    return obj


def _user_key(element_id: str) -> str:
    """The page's own key in an element id (``$$ID-<hash>-<key>``). The hash is left out: Streamlit mixes the
    script's path into it (``active_script_hash``), so it differs between two checkouts of the same code."""
    prefix, _, rest = element_id.partition("-")
    return rest.partition("-")[2] if prefix == "$$ID" else element_id


def _pull_ids(d: dict, keys: list, where: str, field: str) -> None:
    """Move element ids out of ``d`` (at any depth: a tab container's id sits in a sub-message) into ``keys``."""
    for f in sorted(d):
        if f in ID_FIELDS and isinstance(d[f], str):
            keys.append({"at": where, "field": field + f, "key": _user_key(d.pop(f))})
        elif isinstance(d[f], dict):
            _pull_ids(d[f], keys, where, f"{field}{f}.")


def _proto(message, keys: list, where: str) -> dict:
    """A protobuf message as a dict (field names as in the .proto), ids moved to ``keys``, figures summarised."""
    from google.protobuf.json_format import MessageToDict

    d = MessageToDict(message, preserving_proto_field_name=True)
    _pull_ids(d, keys, where, "")
    if isinstance(d.get("spec"), str) and d["spec"].startswith("{"):  # plotly_chart
        d["figure"] = _figure(d.pop("spec"))
    return _shorten(d)


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        if hasattr(v, "tolist"):
            return _jsonable(v.tolist())
        if isinstance(v, (list, tuple, set, frozenset)):
            return [_jsonable(x) for x in v]
        if isinstance(v, dict):
            return {str(k): _jsonable(x) for k, x in v.items()}
        if isinstance(v, bytes):
            return {"bytes": len(v), "hash": _digest(v)}
        return repr(v)


def _node(node, keys: list, where: str) -> dict:
    from streamlit.testing.v1.element_tree import Block, Widget

    out: dict = {"type": getattr(node, "type", type(node).__name__)}
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "ListFields"):
        out["proto"] = _proto(proto, keys, where)
    if isinstance(node, Widget):
        try:
            out["value"] = _jsonable(node.value)
        except Exception as exc:  # noqa: BLE001 — a widget whose value AppTest cannot read: recorded, not fatal
            out["value_error"] = type(exc).__name__
    if isinstance(node, Block):
        out["children"] = [_node(node.children[i], keys, f"{where}/{i}") for i in sorted(node.children)]
    return out


def _run_page(root: Path, page: str, lang: str, predict: bool, timeout: float) -> dict:
    from streamlit.testing.v1 import AppTest

    script = root / ("streamlit_app.py" if page == "streamlit_app" else f"pages/{page}.py")
    at = AppTest.from_file(str(script), default_timeout=timeout)
    at.session_state["lang"] = lang
    at.session_state["predict"] = predict
    at.run()
    keys: list = []
    tree = {"page": page, "lang": lang, "predict": predict,
            "exceptions": [e.message for e in at.exception],
            "tree": [_node(at._tree.children[i], keys, str(i)) for i in sorted(at._tree.children)]}
    tree["keys"] = keys
    return tree


def dump(root: Path, pages: list[str] | None, langs: list[str], predict: list[bool], timeout: float) -> dict:
    root = root.resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ.setdefault("EXPLAINER_ENGINE_WARM_UP", "0")
    os.environ.setdefault("EXPLAINER_PREDICT_FIRST", "0")
    os.environ["CONVOLUTION_EXPLAINER_RUNS"] = tempfile.mkdtemp(prefix="ce-trees-runs-")  # no kept runs
    if not os.environ.get("MNIST_DIR") and (HERE.parent / "shared" / "mnist").is_dir():
        os.environ["MNIST_DIR"] = str(HERE.parent / "shared" / "mnist")
    from ui.nav import LESSONS

    assert Path(sys.modules["ui.nav"].__file__).resolve().is_relative_to(root), "ui.nav came from another tree"
    names = ["streamlit_app"] + [Path(path).stem for path, *_ in LESSONS if (root / path).exists()]
    out = {"root": str(root), "pages": []}
    for page in pages or names:
        for lang in langs:
            for p in predict:
                t0 = time.perf_counter()
                out["pages"].append(_run_page(root, page, lang, p, timeout))
                print(f"{page:>14} {lang} predict={int(p)}  {time.perf_counter() - t0:5.1f} s", file=sys.stderr)
    return out


# ---------------------------------------------------------------- comparison

def _flat(node, path: str, rows: list) -> None:
    """A tree as (path, field, value) rows, one per leaf, for a readable diff."""
    label = node.get("proto", {}).get("label") or node.get("proto", {}).get("body", "")
    here = f"{path}/{node['type']}" + (f"[{str(label)[:40]!r}]" if label else "")
    for k, v in node.items():
        if k == "children":
            for i, c in enumerate(v):
                _flat(c, f"{here}.{i}", rows)
        elif k != "type":
            rows.append((here, k, json.dumps(v, sort_keys=True, ensure_ascii=False)))


# What ``st.container()`` with no options (and so ``st.fragment``, which wraps its elements in one) sends: a block
# that draws nothing itself, between its parent's elements at the same gap
_PLAIN = {"flex_container": {"align": "ALIGN_START", "direction": "VERTICAL", "gap_config": {"gap_size": "SMALL"},
                             "justify": "JUSTIFY_START"},
          "height_config": {"use_content": True}, "width_config": {"use_stretch": True}}


def _spliced(node: dict) -> dict:
    """``node`` with every plain container's children put in its place (``--splice``)."""
    if "children" not in node:
        return node
    kids = []
    for c in node["children"]:
        c = _spliced(c)
        if c.get("type") == "flex_container" and c.get("proto") == _PLAIN:
            kids.extend(c.get("children", []))
        else:
            kids.append(c)
    return {**node, "children": kids}


def _ident(page: dict) -> str:
    return f"{page['page']} {page['lang']} predict={int(page['predict'])}"


def compare(a_path: str, b_path: str, strict: bool = False, limit: int = 40, splice: bool = False) -> int:
    import difflib

    a, b = (json.loads(Path(p).read_text()) for p in (a_path, b_path))
    if splice:  # a page that moved a part into a fragment: the same elements in the same order, keys by name
        for d in (a, b):
            for page in d["pages"]:
                page["tree"] = [_spliced(n) for n in page["tree"]]
                for k in page["keys"]:
                    k["at"] = ""
    pa, pb = ({_ident(p): p for p in d["pages"]} for d in (a, b))
    visible = keyed = 0
    for name in sorted(pa.keys() | pb.keys()):
        if name not in pa or name not in pb:
            print(f"== {name}: only in {'A' if name in pa else 'B'}")
            visible += 1
            continue
        x, y = pa[name], pb[name]
        ra, rb = [], []
        for n in x["tree"]:
            _flat(n, "", ra)
        for n in y["tree"]:
            _flat(n, "", rb)
        la = [f"{p} {k}={v}" for p, k, v in ra] + [f"exception: {e}" for e in x["exceptions"]]
        lb = [f"{p} {k}={v}" for p, k, v in rb] + [f"exception: {e}" for e in y["exceptions"]]
        if la != lb:
            visible += 1
            diff = list(difflib.unified_diff(la, lb, "A", "B", n=1, lineterm=""))
            print(f"== {name}: visible content differs ({len(diff)} diff lines)")
            for line in diff[:limit]:
                print("   " + (line if len(line) < 400 else line[:400] + " …"))
        ka = [(k["at"], k["field"], k["key"]) for k in x["keys"]]
        kb = [(k["at"], k["field"], k["key"]) for k in y["keys"]]
        if ka != kb:
            keyed += 1
            changed = [(p, q) for p, q in zip(ka, kb) if p != q]
            print(f"== {name}: element ids / keys differ ({len(ka)} vs {len(kb)}, {len(changed)} changed)")
            for p, q in changed[:limit // 4]:
                print(f"   {p[0]} {p[1]}: {p[2]}  ->  {q[2]}")
    print(f"{len(pa)} vs {len(pb)} page runs: {visible} with visible differences, {keyed} with key differences")
    return 1 if visible or (strict and keyed) else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=str(Path(tempfile.gettempdir()) / "element_trees.json"))
    ap.add_argument("--root", default=str(HERE), help="the checkout whose pages run (default: this one)")
    ap.add_argument("--pages", help="comma-separated page names (default: the entry script and every lesson)")
    ap.add_argument("--langs", default="en,zh")
    ap.add_argument("--predict", default="0,1", help="'predict first' settings to run: 0, 1 or 0,1")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two dumps; exit 1 on a visible difference")
    ap.add_argument("--strict", action="store_true", help="with --compare: key differences also exit 1")
    ap.add_argument("--splice", action="store_true",
                    help="with --compare: a plain container's elements count as its parent's (st.fragment wraps its "
                         "elements in one; it draws nothing), keys compared by name and order, not position")
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare, strict=args.strict, splice=args.splice)
    t0 = time.perf_counter()
    data = dump(Path(args.root), args.pages.split(",") if args.pages else None, args.langs.split(","),
                [p == "1" for p in args.predict.split(",")], args.timeout)
    Path(args.out).write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{len(data['pages'])} page runs -> {args.out} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
