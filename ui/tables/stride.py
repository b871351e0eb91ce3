"""Stride & padding: the stepper, channels, transposed convolution, receptive fields."""
from explainer.maths.conv import PADDING_MODES
from explainer.limits import KERNEL_TEXT_CHARS, RECEPTIVE_CHANNELS
from explainer.maths.receptive import Layer
from ui.state import Param, Table
from ui.tables.shared import grid_params, region_params, stepper_params, view_param
from ui.tables.shared import question_params

VIEWS = ("stepper", "channels", "transposed", "receptive")
PRESETS = ("custom", "valid", "same", "full")
RF_PRESETS = {
    "two3": [Layer("conv", 3), Layer("conv", 3)],
    "three3": [Layer("conv", 3), Layer("conv", 3), Layer("conv", 3)],
    "vgg": [Layer("conv", 3, padding=1), Layer("conv", 3, padding=1), Layer("pool", 2, 2),
            Layer("conv", 3, padding=1), Layer("conv", 3, padding=1), Layer("pool", 2, 2)],
    "dilated": [Layer("conv", 3, dilation=1), Layer("conv", 3, dilation=2), Layer("conv", 3, dilation=3)],
    "strided": [Layer("conv", 3, stride=2), Layer("conv", 3, stride=2), Layer("conv", 3)],
}

TABLE = Table("stride", [
    view_param("sp_view", VIEWS),
    # the stepper
    Param("sp_input", "choice", "grid", options=("grid", "image")),
    *region_params("sp").values(),
    *grid_params("sp", 5).values(),
    Param("sp_k", "int", 3, lo=1, hi=7),
    Param("sp_s", "int", 2, lo=1, hi=4),
    Param("sp_d", "int", 1, lo=1, hi=3),
    Param("sp_preset", "choice", "custom", options=PRESETS),
    Param("sp_p", "int", 1, lo=0, hi=3),
    Param("sp_mode", "choice", "zeros", options=tuple(PADDING_MODES)),
    Param("sp_kernel", "text", "", max_chars=KERNEL_TEXT_CHARS),
    *stepper_params("sp").values(),
    # channels
    Param("sp_csrc", "choice", "random", options=("random", "image")),
    Param("sp_cn", "int", 5, lo=3, hi=8),
    Param("sp_ck", "int", 2, lo=1, hi=4),
    Param("sp_cf", "int", 3, lo=1, hi=5),
    Param("sp_cs", "int", 2, lo=1, hi=3),
    Param("sp_cp", "int", 1, lo=0, hi=2),
    *stepper_params("sp_c").values(),
    # transposed
    Param("sp_tn", "int", 2, lo=1, hi=5),
    Param("sp_tk", "int", 3, lo=1, hi=4),
    Param("sp_ts", "int", 2, lo=1, hi=3),
    Param("sp_tp", "int", 0, lo=0, hi=3),
    Param("sp_tpad", "int", 0, lo=0, hi=2),
    *stepper_params("sp_t").values(),
    # receptive fields (the row and column: within the last map, the page gives its size and middle)
    Param("sp_rpreset", "choice", "vgg", options=tuple(RF_PRESETS)),
    Param("sp_rr", "int", 0, lo=0),
    Param("sp_rcol", "int", 0, lo=0),
    Param("sp_rn", "int", 16, lo=4, hi=32),
    Param("sp_rc", "int", 64, lo=1, hi=RECEPTIVE_CHANNELS),
    *question_params("stride", "sp").values(),  # predict first: the question cards' answers (session only)
])

# the tutorial button's example (a 5×5×3 input, padding 1, two 3×3×3 kernels, stride 2, from its first step): checked
# like a URL value when this table is imported
TUTORIAL = TABLE.preset(sp_view="channels", sp_ck=2, sp_cf=3, sp_cs=2, sp_cp=1, sp_cn=5, sp_csrc="random", sp_c_pos=1)
