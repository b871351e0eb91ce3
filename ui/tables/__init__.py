"""The declared settings of every page, one ``ui.state.Table`` per page (``ui/tables/<page>.py``).

These modules never import Streamlit and run no page code, so tests read them directly:

    >>> from ui.tables import all_tables
    >>> all_tables()["stride"]["sp_k"].hi
    7
"""
from __future__ import annotations

import importlib

from ui import nav
from ui.state import Table

# the entry script's sidebar ("app") and every lesson of ui/nav.py (the one list of lessons)
PAGES = ("app", *nav.names())


def all_tables() -> dict[str, Table]:
    """``{page: its table}`` for every page (imports each page's table module)."""
    return {page: importlib.import_module(f"ui.tables.{page}").TABLE for page in PAGES}
