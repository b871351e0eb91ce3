"""Inside the network: the model, the input, the selected layer / channel / position, softmax's temperature."""
from explainer import limits
from ui.state import Param, Table
from ui.tables.shared import DIGIT_MAX
from ui.tables.shared import question_params

MODELS = ("newest", "reference")  # or a run's id (explainer.engine.runstore: 22 characters), or a run's weights key
MODEL_CHARS = 22                  # a run id (runstore) is 22 characters, a weights key (network.model_key_of) 16
SOURCES = ("test", "draw", "upload")
MAX_LAYERS = 32    # entries of a trace (the zoo's deepest model has 17)
MAX_CHANNELS = 512  # a custom CNN's widest layer (128 × 2²)
SHOWN = 16         # channels per layer in the overview until "show all"

TABLE = Table("network", [
    Param("nw_model", "text", "newest", max_chars=MODEL_CHARS),  # a link names a run by its id, not its place
    Param("nw_src", "choice", "test", options=SOURCES),
    Param("nw_digit", "int", 0, lo=0, hi=DIGIT_MAX, step=1),
    Param("nw_class", "choice", 7, options=tuple(range(max(10, limits.OWN_CLASSES_MAX)))),  # the page: its classes
    Param("nw_all", "bool", False),
    Param("nw_layer", "choice", 1, options=tuple(range(MAX_LAYERS))),
    Param("nw_channel", "int", 0, lo=0, hi=MAX_CHANNELS - 1, step=1),
    Param("nw_row", "int", 0, lo=0, hi=31, step=1),  # a map's side: 28, or 32 (colour pictures of your own)
    Param("nw_col", "int", 0, lo=0, hi=31, step=1),
    Param("nw_in", "int", 0, lo=0, hi=MAX_CHANNELS - 1, step=1),
    Param("nw_temp", "float", 1.0, lo=0.1, hi=5.0, step=0.1),
    Param("nw_cam", "bool", False),
    *question_params("network", "nw").values(),  # predict first: the question cards' answers (session only)
])
