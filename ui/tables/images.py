"""What a computer sees: a digit's grid, its flattened row, a colour photo's channels."""
from ui.state import Param, Table
from ui.tables.shared import DIGIT_MAX, SIDE_MAX, picker_params
from ui.tables.shared import question_params

TABLE = Table("images", [
    Param("im_digit", "int", 0, lo=0, hi=DIGIT_MAX, step=1),
    Param("im_numbers", "bool", True),
    Param("im_row", "int", 14, lo=0, hi=27),
    *picker_params("im", default="astronaut", allow_mnist=False).values(),
    Param("im_top", "int", 0, lo=0, hi=SIDE_MAX),
    Param("im_left", "int", 0, lo=0, hi=SIDE_MAX),
    *question_params("images", "im").values(),  # predict first: the question cards' answers (session only)
])
