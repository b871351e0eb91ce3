"""The classic X/O example: a hand-built two-stage CNN that tells a 9×9 X from an O.

Pixels are +1 (ink) or −1 (background). Three 3×3 filters (the two diagonals and the centre
cross) give 7×7 feature maps, each value the sum of products divided by 9; ReLU; 2×2 max-pooling
with stride 2 (the 7th row and column are kept by padding, so 7×7 → 4×4); a second round of
conv (a small "gather" kernel on each map, zero padding 1) → ReLU → pool gives 2×2 maps; the 12 numbers are
flattened, scaled to length 1, and a fully connected layer with hand-set weights (from the standard
X and O only: how much each feature tells them apart) votes X or O.

    >>> from explainer.maths.xo import X, run
    >>> r = run(X)
    >>> float(round(r.maps[0][0, 0], 2)), r.winner
    (0.78, 'X')
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explainer.maths.conv import conv2d
from explainer.maths.pooling import pool2d

SIDE = 9  # the input is a SIDE×SIDE grid of ±1


def _grid(rows: list[str]) -> np.ndarray:
    g = np.array([[1.0 if c == "X" else -1.0 for c in r] for r in rows])
    g.setflags(write=False)
    return g


X = _grid([
    ".........",
    ".X.....X.",
    "..X...X..",
    "...X.X...",
    "....X....",
    "...X.X...",
    "..X...X..",
    ".X.....X.",
    ".........",
])
O = _grid([
    ".........",
    "...XXX...",
    "..X...X..",
    ".X.....X.",
    ".X.....X.",
    ".X.....X.",
    "..X...X..",
    "...XXX...",
    ".........",
])

PRESETS: dict[str, np.ndarray] = {
    "x": X,
    "x_shifted": _grid([
        ".........",
        "..X.....X",
        "...X...X.",
        "....X.X..",
        ".....X...",
        "....X.X..",
        "...X...X.",
        "..X.....X",
        ".........",
    ]),
    "x_rotated": _grid([
        ".........",
        "..X......",
        "..X....X.",
        "...X..X..",
        "....XX...",
        "...XX....",
        "..X..X...",
        ".X....X..",
        "......X..",
    ]),
    "x_thick": _grid([
        ".........",
        ".XX...XX.",
        "..XX.XX..",
        "...XXX...",
        "....X....",
        "...XXX...",
        "..XX.XX..",
        ".XX...XX.",
        ".........",
    ]),
    "x_noisy": _grid([
        "......X..",
        ".X.....X.",
        "..X...X..",
        "...X.X...",
        "..X.X....",
        "...X.X...",
        "..X......",
        ".X.....X.",
        "....X....",
    ]),
    "o": O,
    "o_small": _grid([
        ".........",
        ".........",
        "...XXX...",
        "..X...X..",
        "..X...X..",
        "..X...X..",
        "...XXX...",
        ".........",
        ".........",
    ]),
}
EXPECTED = {name: ("X" if name.startswith("x") else "O") for name in PRESETS}

FILTERS = np.array([
    [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]],   # "\" diagonal
    [[1, -1, 1], [-1, 1, -1], [1, -1, 1]],     # centre cross "X"
    [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]],   # "/" diagonal
], dtype=np.float64)
FILTERS.setflags(write=False)
FILTER_NAMES = ("diag_down", "cross", "diag_up")
FILTER_DIVISOR = 9.0  # sum of products / 9: a perfect match scores 1, the mean of the nine products
# Second round: each map is convolved with a small "gather" kernel that pools evidence from a cell
# and its four neighbours (weights sum to 1), so a slightly shifted stroke still counts.
GATHER = np.array([[0, 1, 0], [1, 2, 1], [0, 1, 0]], dtype=np.float64) / 6.0
GATHER.setflags(write=False)


def filter_maps(grid) -> np.ndarray:
    """The first stage: each filter slid over ``grid``, sum of products / 9 → 3 maps (7×7 for a 9×9 grid)."""
    grid = np.asarray(grid, dtype=np.float64)
    return np.stack([conv2d(grid, f) / FILTER_DIVISOR for f in FILTERS])


def matching_cells(total: float) -> int:
    """How many of a window's nine ±1 cells match the filter, from the sum of their products (match +1, miss −1)."""
    return int(round(total + FILTERS[0].size)) // 2


def _features(grid: np.ndarray) -> dict[str, np.ndarray]:
    """Every stage for one 9×9 input; the shared forward pass."""
    maps = filter_maps(grid)                                                # 3 × 7×7
    relu1 = np.maximum(maps, 0.0)
    pooled1 = pool2d(relu1, size=2, stride=2, mode="max", ceil_mode=True)  # 3 × 4×4 (edge row kept)
    # second round: the gather kernel on each map ("depthwise"), zero padding 1 keeps 4×4
    maps2 = np.stack([conv2d(pooled1[c], GATHER, padding=1) for c in range(3)])
    relu2 = np.maximum(maps2, 0.0)
    pooled2 = pool2d(relu2, size=2, stride=2, mode="max", ceil_mode=True)  # 3 × 2×2
    return {"maps": maps, "relu1": relu1, "pooled1": pooled1, "maps2": maps2, "relu2": relu2,
            "pooled2": pooled2, "flat": pooled2.reshape(-1)}


def _unit(f: np.ndarray) -> np.ndarray:
    """The feature vector scaled to length 1: the vote looks at the pattern, not at how thick or big the strokes are."""
    n = float(np.linalg.norm(f))
    return f / n if n > 0 else np.zeros_like(f)


def _fc() -> tuple[np.ndarray, np.ndarray]:
    """Hand-set FC weights (2 × 12) and biases (2,), from the two standard pictures only.

    Each feature is compared with the midpoint between the standard X's and the standard O's
    (both scaled to length 1). The X row's weight for a feature is how much stronger it is in the
    standard X than in the standard O (negative where the O is stronger); the O row is the
    opposite. So a feature above the midpoint votes for the class whose standard picture has it
    stronger, in proportion to how much it tells the two apart, and features both classes share
    get ~0 weight. The weights are scaled so the standard X scores vote_X = +1 and the standard O
    vote_O = +1; the biases move the zero to the midpoint.
    """
    fx, fo = _unit(_features(X)["flat"]), _unit(_features(O)["flat"])
    d = fx - fo
    mid = (fx + fo) / 2
    scale = float(d @ (fx - mid))
    w = np.array([d, -d]) / scale
    b = -w @ mid
    w.setflags(write=False)
    b.setflags(write=False)
    return w, b


FC_WEIGHTS, FC_BIAS = _fc()
CLASSES = ("X", "O")
SOFTMAX_SCALE = 3.0


@dataclass
class XOResult:
    grid: np.ndarray
    maps: np.ndarray      # (3, 7, 7) sum of products / 9
    relu1: np.ndarray     # (3, 7, 7)
    pooled1: np.ndarray   # (3, 4, 4)
    maps2: np.ndarray     # (3, 4, 4)
    relu2: np.ndarray     # (3, 4, 4)
    pooled2: np.ndarray   # (3, 2, 2)
    flat: np.ndarray      # (12,)
    unit: np.ndarray      # (12,) flat scaled to length 1
    votes: np.ndarray     # (2,) X, O: FC_WEIGHTS @ unit + FC_BIAS
    probabilities: np.ndarray  # softmax of SOFTMAX_SCALE × votes
    winner: str


def run(grid) -> XOResult:
    """Every intermediate map and the votes for a 9×9 grid of ±1 (other values are allowed too)."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.shape != (SIDE, SIDE):
        from explainer.errors import UserError, shape_text

        raise UserError("errors.xo_shape", side=SIDE, shape=shape_text(grid.shape))
    f = _features(grid)
    unit = _unit(f["flat"])
    votes = FC_WEIGHTS @ unit + FC_BIAS
    z = SOFTMAX_SCALE * (votes - votes.max())
    p = np.exp(z) / np.exp(z).sum()
    return XOResult(grid=grid, unit=unit, votes=votes, probabilities=p, winner=CLASSES[int(np.argmax(votes))], **f)


def toggle(grid, row: int, col: int) -> np.ndarray:
    """A copy of ``grid`` with the cell at (row, col) flipped between +1 and −1."""
    g = np.array(grid, dtype=np.float64)
    g[row, col] = -1.0 if g[row, col] > 0 else 1.0
    return g


def grid_text(grid) -> str:
    """The grid as SIDE×SIDE characters, row by row: "1" for ink (> 0), "0" for background (a shareable link)."""
    return "".join("1" if v > 0 else "0" for v in np.asarray(grid).ravel())


def parse_grid_text(text: str) -> np.ndarray:
    """The inverse of ``grid_text``: ±1 grid; ``ValueError`` unless exactly SIDE×SIDE characters of "0"/"1"."""
    if len(text) != SIDE * SIDE or set(text) - {"0", "1"}:
        raise ValueError(text)
    return np.array([1.0 if c == "1" else -1.0 for c in text]).reshape(SIDE, SIDE)


@dataclass(frozen=True)
class VoteParts:
    """One class's vote split into what argues for it and against it, beside the same split for that class's
    standard picture (which the weights calibrate to a vote of exactly 1)."""
    cls: int            # 0: X, 1: O
    vote: float
    evidence_for: float      # sum of weight × f̂ over the features with a positive weight
    evidence_against: float  # the same over the negative weights (≤ 0)
    standard_for: float
    standard_against: float
    feature: int        # the feature whose term changed most against the standard picture (index into f̂)
    before: float       # its term weight × f̂ in the standard picture
    after: float        # and here


def vote_parts(res: XOResult, cls: int) -> VoteParts:
    """Why class ``cls`` votes what it does: the vote is not a similarity that peaks at the standard picture but
    the weighted sum W·f̂ + b, so an input can score above the standard picture's 1 (the noisy X: 1.266) when its
    features lie further from the other class along the weights' direction."""
    w = FC_WEIGHTS[cls]
    standard = run(X if cls == 0 else O)
    terms, terms0 = w * res.unit, w * standard.unit
    k = int(np.argmax(np.abs(terms - terms0)))
    return VoteParts(cls, float(res.votes[cls]), float(terms[w > 0].sum()), float(terms[w < 0].sum()),
                     float(terms0[w > 0].sum()), float(terms0[w < 0].sum()), k, float(terms0[k]), float(terms[k]))


def feature_name(index: int) -> tuple[int, int, int]:
    """Feature ``index`` of the flattened vector as (filter, row, column) of the pooled 2×2 maps."""
    k, rest = divmod(int(index), 4)
    return k, rest // 2, rest % 2
