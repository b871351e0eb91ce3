"""How kernels learn: backpropagation by hand, a kernel learning a target, conv vs dense, a CNN's attributions."""
from explainer.learning import backprop as bp
from explainer.data import datasets
from explainer.learning import optimizers
from ui.state import Param, Table
from ui.tables.shared import DIGIT_MAX, view_param
from ui.tables.shared import question_params

# the lesson's parts, one at a time (as Kernels, Stride and Pooling show theirs): by hand; a kernel learning; the
# trained networks (conv vs dense, then what the CNN looks at, which uses those models)
VIEWS = ("hand", "learn", "networks")
HAND_KERNELS = ("emboss", "identity", "horizontal_edge", "sharpen", "sobel_y")
HAND_TARGETS = ("vertical_edge", "sobel_x", "identity", "horizontal_edge")
SPEEDS = (1, 2, 5, 10, 20, 50)
MAP_SIDES = (6, 28, 64, 224)
CELL_MAX = 64  # a picked cell's row/column (the hand example's maps are a few cells; the page gives the bound)


def lr_key(optimizer: str) -> str:
    return f"bp_lr_{optimizer}"


TABLE = Table("backprop", [
    view_param("bp_view", VIEWS),
    Param("bp_input", "choice", "small", options=bp.HAND_INPUTS),
    Param("bp_s", "int", 1, lo=1, hi=bp.MAX_STRIDE),
    Param("bp_kernel", "choice", "emboss", options=HAND_KERNELS),
    Param("bp_p", "int", 0, lo=0, hi=bp.MAX_PADDING),
    Param("bp_target", "choice", "vertical_edge", options=HAND_TARGETS),
    Param("bp_bias", "float", 0.0, lo=-100.0, hi=100.0, step=1.0),
    # the inspected weight and pixel (bounded by the maps' shapes on the page)
    Param("bp_wi", "int", 0, lo=0, hi=CELL_MAX),
    Param("bp_wj", "int", 0, lo=0, hi=CELL_MAX),
    Param("bp_xr", "int", 1, lo=0, hi=CELL_MAX),
    Param("bp_xc", "int", 1, lo=0, hi=CELL_MAX),
    Param("bp_fit_target", "choice", "vertical_edge", options=tuple(bp.TARGETS)),
    Param("bp_fit_image", "choice", "camera", options=tuple(bp.FIT_IMAGES)),
    Param("bp_opt", "choice", "adam", options=tuple(optimizers.NAMES)),
    *(Param(lr_key(n), "float", float(bp.fit_lr(n)), lo=1e-4, hi=10.0, step=0.01, family="bp_lr")
      for n in optimizers.NAMES),
    Param("bp_start", "choice", "random", options=tuple(bp.STARTS)),
    Param("bp_speed", "choice", bp.FIT_SPEED, options=SPEEDS),
    Param("bp_play", "bool", False, url=False),
    Param("bp_side", "choice", 28, options=MAP_SIDES),
    Param("bp_dsrc", "choice", "test", options=("test", "draw")),
    Param("bp_digit", "int", 0, lo=0, hi=DIGIT_MAX),
    Param("bp_dataset", "choice", datasets.DEFAULT, options=datasets.CHOICES),  # own: the set prepared on Train
    *question_params("backprop", "bp").values(),  # predict first: the question cards' answers (session only)
])
