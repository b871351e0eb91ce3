"""Class poll (pages/poll.py): the code a student types, and the answer widgets of the poll's question.

Nothing of a poll goes into the URL but its code (``cp_code``, the students' link); the lecturer's secret
(``cp_key``, the lecturer's link: not a setting, so not declared) is read once from the URL and then kept in the
session only (ui/polls.py)."""
from explainer import limits
from ui.state import Param, Table

TABLE = Table("poll", [
    Param("cp_code", "text", "", max_chars=limits.POLL_CODE_TYPED_CHARS),  # as typed: spaces and dashes are allowed, any case
    Param("cp_num", "float", None, lo=-float(limits.POLL_NUMBER_ABS), hi=float(limits.POLL_NUMBER_ABS), url=False, optional=True),
    Param("cp_choice", "text", None, max_chars=limits.POLL_ANSWER_CHARS, url=False, optional=True),
    Param("cp_row", "int", None, lo=0, hi=limits.POLL_GRID_SIDE - 1, step=1, url=False, optional=True),
    Param("cp_col", "int", None, lo=0, hi=limits.POLL_GRID_SIDE - 1, step=1, url=False, optional=True),
])
