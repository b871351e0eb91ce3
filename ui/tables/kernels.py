"""What a kernel does: the explorer (picker, kernel, custom kernel, inspector), the examples, the shift."""
from explainer.maths.kernels import DIVIDE_MODES, MAX_ABS, MAX_SIZE, NAMES
from explainer.limits import KERNEL_TEXT_CHARS
from ui.state import Param, Table
from ui.tables.shared import SIDE_MAX, picker_params, view_param
from ui.tables.shared import question_params

VIEWS = ("explore", "examples", "shift")
OUTPUT_VIEWS = ("raw", "clipped", "magnitude")
KERNEL_OPTIONS = tuple(NAMES) + ("custom",)
DEFAULT_CUSTOM = "1,0,-1;1,0,-1;1,0,-1"
MAP_CHARS = 48  # "<22-character run id>,9999,31,511"

TABLE = Table("kernels", [
    view_param("kn_view", VIEWS),
    *picker_params("kn", default="camera").values(),
    Param("kn_rgb", "bool", False),
    Param("kn_kernel", "choice", "vertical_edge", options=KERNEL_OPTIONS),
    Param("kn_custom", "text", DEFAULT_CUSTOM, max_chars=KERNEL_TEXT_CHARS),
    Param("kn_div", "choice", "none", options=tuple(DIVIDE_MODES)),
    Param("kn_divnum", "float", 1.0),
    Param("kn_bias", "float", 0.0, lo=-MAX_ABS, hi=MAX_ABS),
    Param("kn_flip", "bool", False),
    Param("kn_out", "choice", "raw", options=OUTPUT_VIEWS),
    Param("kn_row", "int", 0, lo=0, hi=SIDE_MAX, step=1),  # the page gives the most detailed cell as default
    Param("kn_col", "int", 0, lo=0, hi=SIDE_MAX, step=1),
    Param("kn_shift", "int", 4, lo=0, hi=8),
    # a map from Inside the network instead of a picture: "model,test digit,layer,input channel" (model: "reference"
    # or a run id); empty: none. Read and written by pages/kernels.py (network_map), not a widget
    Param("kn_map", "text", "", max_chars=MAP_CHARS),
    # the custom kernel's grid size: follows the kernel's text (kn_custom, in the URL); a change crops or pads it
    Param("kn_grid_rows", "int", 3, lo=1, hi=MAX_SIZE, step=1, url=False),
    Param("kn_grid_cols", "int", 3, lo=1, hi=MAX_SIZE, step=1, url=False),
    *question_params("kernels", "kn").values(),  # predict first: the question cards' answers (session only)
])
