"""The declared state of every page: one typed ``Param`` per setting, one ``Table`` per page.

Like tensorflow/playground's ``state.ts``, every URL-synced setting is declared once (key, declared
type, default, range or options, length limits) and one generic loop turns values into URL text and
back. Unlike it, a value read from a URL is validated (range, options, length, at most
``limits.URL_VALUE_CHARS`` characters) and refused with ``ValueError`` when it doesn't fit; the widget
layer (``ui.shell.widget``) then falls back to the default with a toast.

This module never imports Streamlit: the tables (``ui/tables/<page>.py``) and the tests import it alone.

    >>> STRIDE = Table("stride", [Param("sp_k", "int", 3, lo=1, hi=7)])
    >>> STRIDE["sp_k"].parse("5"), STRIDE["sp_k"].format(5)
    (5, '5')
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from explainer import limits

KINDS = ("int", "float", "bool", "choice", "multi", "text", "int_range", "float_range")
MAX_EXACT_INT = 2**53 - 1  # whole numbers beyond what a browser can hold exactly are refused
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Param:
    """One setting: its URL/session key, declared type and what values it may take.

    ``lo``/``hi`` (and ``step``) for numbers and ranges (``None``: unbounded); ``options`` for
    ``choice``/``multi`` (a sequence, or a callable returning one, e.g. a registry's names);
    ``max_chars`` for ``text`` (default ``limits.TEXT_CHARS``); ``max_selections`` for ``multi``.
    ``url=False``: session state only (kept across page switches, never in the URL). ``family``
    tags keys generated from a registry (one per optimizer …): the walk must reach one of them.
    ``optional``: ``None`` is a value too (a select box with nothing chosen yet; the empty text in a URL).
    A number setting whose values a run lists (a select box over this session's runs) takes ``options=``
    on that run: each a whole/real number inside the declared range.
    """
    key: str
    type: str
    default: Any
    lo: Any = None
    hi: Any = None
    step: Any = None
    options: Sequence | Callable[[], Sequence] | None = None
    max_chars: int | None = None
    max_selections: int | None = None
    url: bool = True
    family: str | None = None
    optional: bool = False

    def __post_init__(self):
        if self.type not in KINDS:
            raise ValueError(f"{self.key}: unknown type {self.type!r}")
        if (self.options is not None) != (self.type in ("choice", "multi")):
            raise ValueError(f"{self.key}: options go with choice/multi only")

    # ---------------------------------------------------------------- what it may take
    def choices(self, options: Iterable | None = None) -> list:
        """The declared options (``options``: a narrower list for this run, each one declared); for a number
        setting, the values this run offers (each must fit the declared range)."""
        if self.type in ("int", "float") and options is not None:
            listed = list(options)
            if not all(self.fits(o) and o is not None for o in listed):
                raise ValueError(f"{self.key}: options {listed} are not in the declared range")
            return listed
        declared = list(self.options() if callable(self.options) else self.options or [])
        if options is None:
            return declared
        narrowed = list(options)
        undeclared = [o for o in narrowed if o not in declared]
        if undeclared:
            raise ValueError(f"{self.key}: options {undeclared} are not declared")
        return narrowed

    def bounds(self, lo: Any = None, hi: Any = None) -> tuple[Any, Any]:
        """The range for this run: the declared one, narrowed by ``lo``/``hi`` (clamped into the declared range)."""
        def clamp(v):
            if v is None:
                return None
            if self.lo is not None and v < self.lo:
                v = self.lo
            if self.hi is not None and v > self.hi:
                v = self.hi
            return int(v) if self.type in ("int", "int_range") else float(v)

        return (self.lo if lo is None else clamp(lo)), (self.hi if hi is None else clamp(hi))

    def widget_kwargs(self, lo: Any = None, hi: Any = None, options: Iterable | None = None) -> dict:
        """Streamlit's keyword arguments for this setting on this run (``min_value`` …, ``options``, ``max_chars``)."""
        if self.type in ("choice", "multi") or (self.type in ("int", "float") and options is not None):
            kw = {"options": self.choices(options)}
            if self.max_selections is not None:
                kw["max_selections"] = self.max_selections
            return kw
        if self.type == "text":
            return {"max_chars": self.max_chars or limits.TEXT_CHARS}
        if self.type == "bool":
            return {}
        lo, hi = self.bounds(lo, hi)
        kw = {"min_value": lo, "max_value": hi, "step": self.step}
        return {k: v for k, v in kw.items() if v is not None}

    # ---------------------------------------------------------------- the generic loop
    def format(self, value: Any) -> str:
        """The URL text of ``value``."""
        if value is None and self.optional:
            return ""
        if self.type == "bool":
            return "1" if value else "0"
        if self.type == "float":
            return repr(float(value))
        if self.type == "int":
            return str(int(value))
        if self.type in ("multi", "int_range", "float_range"):
            one = {"multi": str, "int_range": lambda v: str(int(v)), "float_range": lambda v: repr(float(v))}[self.type]
            return ",".join(one(v) for v in value)
        return str(value)

    def parse(self, raw: str, *, lo: Any = None, hi: Any = None, options: Iterable | None = None) -> Any:
        """The value of URL text ``raw``; ``ValueError`` when it is malformed, too long or out of range."""
        if not isinstance(raw, str):
            raise ValueError(raw)
        if len(raw) > limits.URL_VALUE_CHARS:
            raise ValueError("too long")
        if raw == "" and self.optional:
            return None
        if self.type in ("choice", "multi"):
            by_text = {str(o): o for o in self.choices(options)}
            if self.type == "choice":
                if raw not in by_text:
                    raise ValueError(raw)
                return by_text[raw]
            parts = list(dict.fromkeys(p for p in raw.split(",") if p != ""))  # each option once
            if any(p not in by_text for p in parts) or (self.max_selections and len(parts) > self.max_selections):
                raise ValueError(raw)
            return [by_text[p] for p in parts]
        if self.type == "bool":
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError(raw)
        if self.type == "text":
            if len(raw) > (self.max_chars or limits.TEXT_CHARS):
                raise ValueError("too long")
            return raw
        lo, hi = self.bounds(lo, hi)
        if self.type in ("int_range", "float_range"):
            parts = raw.split(",")
            if len(parts) != 2:
                raise ValueError(raw)
            value = tuple(self._number(p, self.type == "int_range") for p in parts)
            numbers = value
        else:
            value = self._number(raw, self.type == "int")
            numbers = (value,)
            if options is not None and value not in self.choices(options):
                raise ValueError(raw)
        if any((lo is not None and v < lo) or (hi is not None and v > hi) for v in numbers):
            raise ValueError(raw)
        return value

    @staticmethod
    def _number(raw: str, whole: bool) -> int | float:
        if whole:
            value = int(raw)
            if abs(value) > MAX_EXACT_INT:
                raise ValueError(raw)
            return value
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value

    def fits(self, value: Any, *, lo: Any = None, hi: Any = None, options: Iterable | None = None) -> bool:
        """Whether ``value`` is a valid value of this setting on this run (type, range, options, length)."""
        if value is None:
            return self.optional
        if self.type in ("int", "float") and options is not None and value not in list(options):
            return False
        if self.type in ("choice", "multi"):
            allowed = self.choices(options)
            if self.type == "choice":
                return value in allowed
            return (isinstance(value, (list, tuple)) and all(v in allowed for v in value)
                    and not (self.max_selections and len(value) > self.max_selections))
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "text":
            return isinstance(value, str) and len(value) <= (self.max_chars or limits.TEXT_CHARS)
        if self.type in ("int_range", "float_range"):
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                return False
            numbers = list(value)
        else:
            numbers = [value]
        whole = self.type in ("int", "int_range")
        lo, hi = self.bounds(lo, hi)
        return all((_is_int(v) if whole else _is_number(v) and math.isfinite(v))
                   and not (lo is not None and v < lo) and not (hi is not None and v > hi) for v in numbers)

    def coerce(self, value: Any) -> Any:
        """A computed value (a NumPy integer, an int for a float setting …) as this setting's Python type."""
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if self.type == "int" and real:
            return int(value)
        if self.type == "float" and real:
            return float(value)
        if self.type in ("int_range", "float_range") and isinstance(value, (list, tuple)):
            return tuple(int(v) if self.type == "int_range" else float(v) for v in value)
        return value


@dataclass(frozen=True)
class Table:
    """A page's settings: ``TABLE["sp_k"]`` is the ``Param`` of key ``sp_k``."""
    name: str
    params: tuple[Param, ...]
    _by_key: dict = field(init=False, repr=False, compare=False)

    def __init__(self, name: str, params: Iterable[Param]):
        params = tuple(params)
        by_key = {}
        for p in params:
            if p.key in by_key:
                raise ValueError(f"{name}: {p.key} declared twice")
            by_key[p.key] = p
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "_by_key", by_key)

    def __getitem__(self, key: str) -> Param:
        return self._by_key[key]

    def __contains__(self, key: str) -> bool:
        return key in self._by_key

    def __iter__(self):
        return iter(self.params)

    def keys(self) -> list[str]:
        return list(self._by_key)

    def preset(self, **values: Any) -> dict[str, Any]:
        """Declared values for a preset button (a page writes them to the session): each key declared here, each
        value checked like a URL value (its type, range, options, length, and its URL text reads back as it), so
        a bad preset fails when the table is imported, not silently in a learner's session.

        >>> Table("t", [Param("t_k", "int", 3, lo=1, hi=7)]).preset(t_k=9)
        Traceback (most recent call last):
        ValueError: t: preset value t_k=9 does not fit its declaration
        """
        checked = {}
        for key, value in values.items():
            if key not in self._by_key:
                raise ValueError(f"{self.name}: preset key {key} is not declared")
            p = self._by_key[key]
            if p.type == "float" and _is_int(value):  # 1 for 1.0; never 2.5 for a whole number
                value = float(value)
            if not p.fits(value) or p.parse(p.format(value)) != value:
                raise ValueError(f"{self.name}: preset value {key}={value!r} does not fit its declaration")
            checked[key] = value
        return checked
