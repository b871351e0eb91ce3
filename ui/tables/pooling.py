"""Pooling: the stepper (a grid, an image region or X/O maps), pooling an image, shifted X/O maps."""
from ui.state import Param, Table
from ui.tables.shared import grid_params, picker_params, region_params, stepper_params, view_param
from ui.tables.shared import question_params

VIEWS = ("stepper", "image", "xo")
MODES = ("max", "avg", "global")

TABLE = Table("pooling", [
    view_param("pl_view", VIEWS),
    Param("pl_input", "choice", "grid", options=("grid", "image", "xo")),
    *region_params("pl").values(),
    Param("pl_xo", "choice", "x", options=("x", "o")),
    *grid_params("pl", 6).values(),
    Param("pl_mode", "choice", "max", options=MODES),
    Param("pl_size", "int", 2, lo=1, hi=4),
    Param("pl_stride", "int", 2, lo=1, hi=4),
    Param("pl_pad", "int", 0, lo=0, hi=2),
    Param("pl_ceil", "bool", False),
    Param("pl_count", "bool", True),
    Param("pl_compare", "bool", False),  # max and average side by side
    *stepper_params("pl").values(),
    *picker_params("pl_photo", default="camera").values(),
    Param("pl_levels", "int", 2, lo=1, hi=4),
    Param("pl_xo2", "choice", "x", options=("x", "o")),
    Param("pl_dy", "int", 0, lo=-2, hi=2),
    Param("pl_dx", "int", 1, lo=-2, hi=2),
    *question_params("pooling", "pl").values(),  # predict first: the question cards' answers (session only)
])

# the "overlapping windows" button's values: checked like a URL value when this table is imported
OVERLAP = TABLE.preset(pl_size=3, pl_stride=2, pl_pad=0, pl_mode="max")
