"""The declared state: every page's settings in one typed table (``ui/tables/<page>.py``, ``ui.state``).

From the tables alone: each key is declared once, each default is valid and survives the URL, in-range
values round-trip and out-of-range, malformed or too long ones are refused. Tied to the pages: the walk
of every page (``tests/pagewalk.py``) finds exactly the declared URL keys, and each widget uses the
declared ``Param`` with a range inside the declared one.
"""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from explainer import limits
from tests import pagewalk
from ui.state import KINDS, MAX_EXACT_INT, Param, Table
from ui.tables import all_tables

ROOT = Path(__file__).resolve().parents[1]
TABLES = all_tables()
PARAMS = [p for table in TABLES.values() for p in table]
PYTHON_TYPE = {"int": int, "float": float, "bool": bool, "choice": object, "multi": list, "text": str,
               "int_range": tuple, "float_range": tuple}


def _ids(params):
    return [p.key for p in params]


def test_tables_import_without_streamlit():
    code = ("import sys; from ui.tables import all_tables; all_tables(); "
            "assert 'streamlit' not in sys.modules, sorted(m for m in sys.modules if 'streamlit' in m)[:5]")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_every_key_is_declared_once():
    counts = Counter(p.key for p in PARAMS)
    assert [k for k, n in counts.items() if n > 1] == []
    # a table for the sidebar and every lesson of the navigation, and no table file that nothing reads
    from ui.nav import LESSONS

    on_disk = {f.stem for f in (ROOT / "ui" / "tables").glob("*.py")} - {"__init__", "shared"}
    assert set(TABLES) == on_disk == {"app"} | {Path(path).stem for path, *_ in LESSONS}


@pytest.mark.parametrize("param", PARAMS, ids=_ids(PARAMS))
def test_declared_default_is_valid_and_survives_the_url(param: Param):
    assert param.type in KINDS
    assert isinstance(param.default, PYTHON_TYPE[param.type]) or (param.default is None and param.optional)
    if param.type in ("int", "float") and param.default is not None:
        assert not isinstance(param.default, bool)
    assert param.fits(param.default)
    assert param.parse(param.format(param.default)) == param.default


def _samples(p: Param) -> list:
    """In-range values of ``p``: the bounds and values between, every option, subsets, awkward text (and None for
    an optional one)."""
    if p.optional:
        return [None] + [v for v in _samples(Param(p.key, p.type, p.default, p.lo, p.hi, p.step, p.options, p.max_chars,
                                                   p.max_selections)) if v != ""]  # optional text: "" is None
    if p.type == "bool":
        return [True, False]
    if p.type == "choice":
        return p.choices()
    if p.type == "multi":
        opts = p.choices()
        most = p.max_selections or len(opts)
        return [[], opts[:1], opts[-1:], opts[:most], list(reversed(opts[:most]))]
    if p.type == "text":
        most = p.max_chars or limits.TEXT_CHARS
        return ["", "1,0,-1;1,0,-1", "猫 ü, é; \u2028 x", " spaced ", "9" * min(most, limits.URL_VALUE_CHARS)]
    whole = p.type in ("int", "int_range")
    lo = p.lo if p.lo is not None else (-MAX_EXACT_INT if whole else -1e300)
    hi = p.hi if p.hi is not None else (MAX_EXACT_INT if whole else 1e300)
    mids = [lo + (hi - lo) // 3, lo + 1] if whole else [lo + (hi - lo) / 3, lo + (hi - lo) * 0.123456789]
    numbers = [n for n in [lo, hi, *mids] if lo <= n <= hi]
    if p.type.endswith("_range"):
        return [(a, b) for a in numbers for b in numbers if a <= b]
    return numbers


@pytest.mark.parametrize("param", PARAMS, ids=_ids(PARAMS))
def test_values_round_trip_through_the_url(param: Param):
    for value in _samples(param):
        text = param.format(value)
        assert isinstance(text, str) and len(text) <= limits.URL_VALUE_CHARS
        back = param.parse(text)
        assert back == value and type(back) is type(value), (value, text, back)
        assert param.fits(back)


def _refused(p: Param) -> list[str]:
    """URL values ``p`` must refuse."""
    bad = ["x" * (limits.URL_VALUE_CHARS + 1)]
    if p.type in ("int", "float", "int_range", "float_range"):
        one = lambda v: f"{v},{v}" if p.type.endswith("_range") else str(v)  # noqa: E731
        bad += [one("abc"), one("nan"), one("inf"), one("-inf"), "1,2,3"] + ([] if p.optional else [""])
        if p.type.startswith("int"):
            bad += [one("1.5"), one(2**70)]
        if p.lo is not None:
            bad.append(one(p.lo - 1))
        if p.hi is not None:
            bad.append(one(p.hi + 1))
    elif p.type == "bool":
        bad += ["2", "maybe", ""]
    elif p.type == "choice":
        bad += ["zz", *([] if p.optional else [""]),  # an optional choice: "" is nothing chosen
                ",".join(map(str, p.choices()[:2])) if len(p.choices()) > 1 else "-1"]
    elif p.type == "multi":
        bad += ["zz", f"{p.choices()[0]},zz"]
        if p.max_selections and len(p.choices()) > p.max_selections:
            bad.append(",".join(map(str, p.choices()[:p.max_selections + 1])))
    elif p.type == "text":
        bad.append("9" * ((p.max_chars or limits.TEXT_CHARS) + 1))
    return bad


@pytest.mark.parametrize("param", PARAMS, ids=_ids(PARAMS))
def test_malformed_out_of_range_or_too_long_values_are_refused(param: Param):
    for raw in _refused(param):
        if param.type == "text" and len(raw) <= (param.max_chars or limits.TEXT_CHARS):
            continue
        with pytest.raises(ValueError):
            param.parse(raw)


def test_a_run_may_narrow_but_not_widen_the_declared_range():
    p = Param("t_k", "int", 3, lo=1, hi=7)
    assert p.widget_kwargs(hi=4) == {"min_value": 1, "max_value": 4}
    assert p.widget_kwargs(lo=-5, hi=50) == {"min_value": 1, "max_value": 7}  # clamped into the declaration
    with pytest.raises(ValueError):
        p.parse("6", hi=4)
    assert not p.fits(6, hi=4) and p.fits(6)
    with pytest.raises(ValueError):
        Param("t_c", "choice", "a", options=("a", "b")).parse("b", options=["a", "c"])  # "c" was never declared
    with pytest.raises(ValueError):
        Table("t", [p, p])
    with pytest.raises(ValueError):
        Param("t_bad", "number", 1)


def test_a_number_listed_by_a_run_and_nothing_chosen():
    """A select box over this session's runs: an int setting whose run lists its values; a cell not chosen yet: None."""
    pick = Param("t_pick", "int", 0, lo=0, url=False)
    assert pick.widget_kwargs(options=[0, 1, 2]) == {"options": [0, 1, 2]}
    assert pick.fits(2, options=[0, 1, 2]) and not pick.fits(3, options=[0, 1, 2]) and pick.fits(3)
    assert pick.parse("1", options=[0, 1, 2]) == 1
    with pytest.raises(ValueError):
        pick.parse("3", options=[0, 1, 2])
    with pytest.raises(ValueError):
        pick.widget_kwargs(options=[0, -1])  # below the declared range
    with pytest.raises(ValueError):
        pick.widget_kwargs(options=[0, 1.5])  # not a whole number
    cell = Param("t_cell", "int", None, lo=0, hi=9, optional=True)
    assert cell.fits(None) and cell.format(None) == "" and cell.parse("") is None
    assert not pick.fits(None)
    with pytest.raises(ValueError):
        pick.parse("")


# ---------------------------------------------------------------- presets: declared values, checked like a URL value
def _presets() -> dict[str, tuple]:
    """Every preset button's values in the tables: ``{name: (table, values)}``."""
    from ui.tables import optimizers, pooling, stride, train

    return {**{f"train.{n}": (train.TABLE, v) for n, v in train.PRESETS.items()},
            **{f"optimizers.{n}": (optimizers.TABLE, v) for n, v in optimizers.PRESETS.items()},
            "pooling.overlap": (pooling.TABLE, pooling.OVERLAP), "stride.tutorial": (stride.TABLE, stride.TUTORIAL)}


@pytest.mark.parametrize("name", sorted(_presets()))
def test_every_preset_value_is_a_declared_value(name):
    table, values = _presets()[name]
    assert values
    for key, value in values.items():
        p = table[key]
        assert p.fits(value) and p.parse(p.format(value)) == value, (key, value)


def test_a_bad_preset_value_fails_when_the_table_is_imported():
    table = TABLES["train"]
    assert table.preset(tr_lr=0.1, tr_epochs=30) == {"tr_lr": 0.1, "tr_epochs": 30}
    assert table.preset(tr_lr=1) == {"tr_lr": 1.0}  # a whole number for a real one: the same value
    bad = [dict(tr_lr=5.0),  # beyond the declared 2.0
           dict(tr_size=1234),  # not one of the options
           dict(tr_seed=2.5), dict(tr_epochs="3"), dict(tr_cycle=1),  # not of the declared type
           dict(tr_lr=float("nan")), dict(tr_speed=1)]  # not a number; not declared
    for values in bad:
        with pytest.raises(ValueError):
            table.preset(**values)
    # the table module itself: one bad value in its PRESETS and importing it fails
    source = (ROOT / "ui" / "tables" / "train.py").read_text(encoding="utf-8")
    assert source.count("tr_lr=0.006") == 1
    with pytest.raises(ValueError, match="tr_lr"):
        exec(compile(source.replace("tr_lr=0.006", "tr_lr=40.0"), "ui/tables/train.py", "exec"), {})


# ---------------------------------------------------------------- the tables against the pages
@pytest.fixture(scope="module")
def walked() -> dict[str, pagewalk.WidgetSpec]:
    found = {}
    for page in pagewalk.pages():
        found.update(pagewalk.widget_keys(page))
    return found


def test_every_widget_the_pages_create_is_declared(walked):
    declared = {p.key: p for p in PARAMS}
    widgets = {k: s for k, s in walked.items() if s.kind != "restore"}
    assert sorted(k for k in widgets if k not in declared) == []
    # the helpers (picker, stepper, views) build the same Param the page's table declares
    assert sorted(k for k, s in widgets.items() if s.param != declared[k]) == []
    for key, spec in widgets.items():  # a narrower bound for this run lies within the declared range
        lo, hi = spec.asked
        p = declared[key]
        assert lo is None or p.lo is None or lo >= p.lo, (key, lo, p.lo)
        assert hi is None or p.hi is None or hi <= p.hi, (key, hi, p.hi)


# Declared keys the walk may not reach: the CNN section of How kernels learn needs a trained model (a job on the
# engine); an image picker's MNIST digit is a choice or two deep (view → source → picker), and which of them the
# walk's run limit reaches varies with the order it meets the choices in.
UNWALKED = {"bp_dsrc", "bp_digit", "kn_digit", "pl_img_digit", "pl_photo_digit", "sp_img_digit"}


def test_no_declaration_is_dead(walked):
    """Every declared URL key is read by some page; of a family generated from a registry (a learning rate
    per optimizer …) at least one member is."""
    url_params = [p for p in PARAMS if p.url]
    dead = {p.key for p in url_params if p.family is None and p.key not in walked}
    assert dead <= UNWALKED, sorted(dead - UNWALKED)
    families = {p.family for p in url_params if p.family}
    assert sorted(f for f in families if not any(p.key in walked for p in url_params if p.family == f)) == []
