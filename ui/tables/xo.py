"""The X/O network: a preset grid, the pixel inspector."""
from explainer.maths import xo
from ui.state import Param, Table
from ui.tables.shared import view_param
from ui.tables.shared import question_params

VIEWS = ("conv", "relu", "pool", "round2", "vote")  # the network's stages, one shown at a time

TABLE = Table("xo", [
    Param("xo_preset", "choice", "x", options=tuple(xo.PRESETS)),
    Param("xo_ik", "choice", 0, options=(0, 1, 2)),
    Param("xo_ir", "int", 0, lo=0, hi=6, step=1),
    Param("xo_ic", "int", 0, lo=0, hi=6, step=1),
    view_param("xo_view", VIEWS),
    # the cell a "flip" button flips (a click on the grid does the same): session state, the grid is in the URL
    Param("xo_tr", "int", 4, lo=0, hi=xo.SIDE - 1, url=False),
    Param("xo_tc", "int", 4, lo=0, hi=xo.SIDE - 1, url=False),
    *question_params("xo", "xo").values(),  # predict first: the question cards' answers (session only)
])
