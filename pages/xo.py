"""The X/O network: three 3×3 filters, ReLU, max-pooling, a second round and a vote — every number shown."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

import numpy as np
import streamlit as st

from explainer.maths import xo
from explainer.maths.formulas import xo_pixel_latex, xo_vote_latex
from explainer.figures import heatmap
from explainer.figures import xo as figs
from explainer.figures.style import DIVERGING, number
from explainer.maths.inspector import inspect_pixel
from ui.charts import chart, figure
from ui.questions import ask
from ui.shell import labels, note, publish, restore, t, widget
from ui.tables.xo import TABLE as XO

ROW, COL, VAL = t("common.row"), t("common.column"), t("common.value")


# ---------------------------------------------------------------- input: a preset, then toggle cells
def pick_preset() -> tuple[str, np.ndarray]:
    """The preset and the grid to start from: the kept (or linked) grid, unless the preset just changed."""
    preset = widget(st.segmented_control, t("xo.preset"), XO["xo_preset"], format_func=labels("xo.preset_"),
                    required=True)
    previous = st.session_state.get("_xo_preset_seen")
    st.session_state["_xo_preset_seen"] = preset
    grid = restore("xo_grid", xo.PRESETS[preset], xo.parse_grid_text)
    if previous is not None and previous != preset:  # a new preset replaces the edited grid
        grid = xo.PRESETS[preset]
    return preset, grid


def edit_grid(preset: str, grid: np.ndarray) -> np.ndarray:
    """The input grid (a click flips a cell) beside the toggle-by-number controls; returns the edited grid."""
    left, right = st.columns([3, 2])
    with left:
        st.header(t("xo.input_header"))
        grid = clickable_grid(grid)
    with right:
        grid = toggle_controls(preset, grid)
    return grid


def clickable_grid(grid: np.ndarray) -> np.ndarray:
    """Read the click before drawing, so the grid shown already has the flipped cell (not one click behind);
    then draw a fresh chart (new key) so the next click on the same cell flips it back."""
    n = st.session_state.get("_xo_click_n", 0)
    event = st.session_state.get(f"xo_input_{n}")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points:
        grid = xo.toggle(grid, int(points[0]["y"]), int(points[0]["x"]))
        st.session_state["_xo_click_n"] = n = n + 1
    chart(figure(figs.input_grid, grid, x_title=COL, y_title=ROW, value_label=VAL), key=f"xo_input_{n}",
          name=t("xo.input_header"), on_select="rerun", selection_mode="points", config={"displayModeBar": False})
    return grid


def toggle_controls(preset: str, grid: np.ndarray) -> np.ndarray:
    """Flip a cell by its row and column, or go back to the preset."""
    st.markdown(t("xo.input_help"))
    c1, c2 = st.columns(2)
    r = widget(c1.number_input, t("xo.toggle_row"), XO["xo_tr"])
    c = widget(c2.number_input, t("xo.toggle_col"), XO["xo_tc"])
    if st.button(t("xo.toggle"), key="xo_toggle_btn"):
        grid = xo.toggle(grid, r, c)
    if st.button(t("xo.reset"), key="xo_reset_btn"):
        grid = xo.PRESETS[preset]
    return grid


def verdict(res: xo.XOResult, preset: str) -> None:
    """The network's vote: a success when it matches the preset's letter, a warning otherwise."""
    text = t("xo.verdict", winner=res.winner, x=number(res.votes[0], ".3f"), o=number(res.votes[1], ".3f"))
    (st.success if res.winner == xo.EXPECTED.get(preset) else st.warning)(text)


def maps_row(maps, names: list[str], key: str, height: int = 300) -> None:
    """The three filters' maps of one stage side by side, each titled with its filter."""
    for k, col in enumerate(st.columns(len(maps))):
        with col:
            chart(figure(figs.feature_map, maps[k], title=names[k], x_title=COL, y_title=ROW, value_label=VAL,
                         height=height), key=f"{key}{k}")


# ---------------------------------------------------------------- the stages, one tab each
def conv_tab(grid: np.ndarray, res: xo.XOResult, names: list[str], maps_seen: bool = True) -> None:
    """The three filters and their maps, then the pixel inspector. Predict first: the maps (and the worked example of
    their values) wait for both the question where the cross filter is strongest (``maps_seen``) and the inspector's
    question on one value (every value of the maps is on them)."""
    st.markdown(t("xo.conv_text"))
    cols = st.columns(3)
    for k, col in enumerate(cols):
        with col:
            chart(figure(heatmap, xo.FILTERS[k], colorscale=figs.PM_SCALE, zmin=-1, zmax=1, title=names[k],
                         x_title=COL, y_title=ROW, value_label=VAL, showscale=False, height=200), key=f"xo_f{k}")
    below = st.empty()  # the worked example, or what waits
    inspected = pixel_inspector(grid, res, names)
    if not (maps_seen and inspected):
        below.info(t("questions.hidden_these"))
        return
    for k, col in enumerate(cols):
        with col:
            chart(figure(figs.feature_map, res.maps[k], title=t("xo.map_title"), x_title=COL, y_title=ROW,
                         value_label=VAL), key=f"xo_m{k}")
    below.markdown(t("xo.conv_example"))


def pixel_inspector(grid: np.ndarray, res: xo.XOResult, names: list[str]) -> bool:
    """One value of one map, by hand: the window, its products, the map with the value marked, the sum. Returns whether
    its question is answered (or skipped)."""
    st.header(t("xo.inspect_header"))
    i1, i2, i3 = st.columns(3)
    with i1:
        fk = widget(st.selectbox, t("xo.inspect_filter"), XO["xo_ik"], format_func=names.__getitem__)
    with i2:
        ir = widget(st.number_input, t("common.row"), XO["xo_ir"])
    with i3:
        ic = widget(st.number_input, t("common.column"), XO["xo_ic"])
    # the same routine as the Kernels page's inspector: products summed in conv2d's order, so it equals the map
    info = inspect_pixel(grid, xo.FILTERS[fk], ir, ic, divisor=9)
    # predict first: the map with the value, the sum and the value wait for the learner's answer
    seen = ask("xo.map_value", {"grid": xo.grid_text(grid), "filter": int(fk), "row": int(ir), "col": int(ic)}, "xo")
    a, b, cc = st.columns([1.3, 0.8, 1.3])  # the 9×9 window and the 7×7 map get the room: numbers must not overlap
    with a:
        chart(figure(figs.input_grid, grid, x_title=COL, y_title=ROW, value_label=VAL, window=(ir, ic, 3), height=320),
              key="xo_iwin", name=t("xo.inspect_header"))
    with b:
        chart(figure(heatmap, info.products, colorscale="RdBu", zmid=0, zmin=-1, zmax=1, title=t("xo.products"),
                     x_title=COL, y_title=ROW, value_label=VAL, showscale=False, height=220), key="xo_iprod")
    with cc:
        if seen:
            chart(figure(figs.feature_map, res.maps[fk], title=t("xo.map_title"), x_title=COL, y_title=ROW,
                         value_label=VAL, mark=(ir, ic), height=300), key="xo_imap")
        else:
            st.info(t("questions.hidden"))
    if not seen:
        return False
    st.latex(xo_pixel_latex(info))
    st.markdown(t("xo.inspect_result", matches=xo.matching_cells(info.total), total=number(info.total, ".0f"),
                  value=number(info.value, ".2f"), mapvalue=number(res.maps[fk][ir, ic], ".2f")))
    return True


def relu_tab(res: xo.XOResult, names: list[str]) -> None:
    st.markdown(t("xo.relu_text"))
    maps_row(res.relu1, names, "xo_r")


def pool_tab(res: xo.XOResult, names: list[str]) -> None:
    st.markdown(t("xo.pool_text"))
    maps_row(res.pooled1, names, "xo_p", height=220)


def round2_tab(res: xo.XOResult, names: list[str]) -> None:
    """The gather kernel, then each map after the second ReLU and its 2×2 pooling."""
    st.markdown(t("xo.round2_text"))
    top = float(xo.GATHER.max())  # all positive: red, as positive values are everywhere on this page
    chart(figure(heatmap, xo.GATHER, colorscale=DIVERGING, zmin=-top, zmax=top, zmid=0, title=t("xo.gather"), x_title=COL,
                 y_title=ROW, value_label=VAL, showscale=False, height=200, number_format=".2f"), key="xo_gather")
    cols = st.columns(3)
    for k, col in enumerate(cols):
        with col:
            chart(figure(figs.feature_map, res.relu2[k], title=names[k] + "<br>" + t("xo.after_relu"),
                         x_title=COL, y_title=ROW, value_label=VAL, height=250), key=f"xo_q{k}")
            chart(figure(figs.feature_map, res.pooled2[k], title=t("xo.pooled_2x2"), x_title=COL, y_title=ROW,
                         value_label=VAL, height=180), key=f"xo_s{k}")


def positive_row(values, title: str, key: str) -> None:
    """A row of features (all ≥ 0 after ReLU and pooling) in the page's one signed scale: positive is red."""
    top = max(float(np.max(values)), 1e-9)
    chart(figure(heatmap, values[None, :], colorscale=DIVERGING, zmin=-top, zmax=top, zmid=0, title=title,
                 x_title=t("xo.feature"), y_title="", value_label=VAL, showscale=False, height=140,
                 number_format=".2f"), key=key)


def weights_figure(title: str, x_title: str, y_title: str, value_label: str):
    """The hand-set weights, one row per class."""
    weights = heatmap(xo.FC_WEIGHTS, colorscale="RdBu", zmid=0, title=title, x_title=x_title,
                      y_title=y_title, value_label=value_label, showscale=False, height=180, number_format=".1f")
    weights.data[0].y = list(xo.CLASSES)  # the rows are the classes X and O (the hover names them too)
    weights.layout.yaxis.update(tickmode="array", tickvals=list(xo.CLASSES), dtick=None, tick0=None)
    return weights


def vote_tab(res: xo.XOResult, names: list[str]) -> None:
    """The flattened features, scaled to length 1, the hand-set weights and the vote."""
    st.markdown(t("xo.vote_text"))
    positive_row(res.flat, t("xo.flat"), "xo_flat")
    positive_row(res.unit, t("xo.unit"), "xo_unit")
    chart(figure(weights_figure, t("xo.weights"), t("xo.feature"), t("xo.class"), VAL), key="xo_w")
    chart(figure(figs.votes, list(xo.CLASSES), res.votes, res.probabilities, vote_title=t("xo.vote"),
                 prob_title=t("xo.class")), key="xo_votes", name=t("xo.vote"))
    st.latex(xo_vote_latex(res.votes, t("xo.vote")))
    best = int(np.argmax(res.votes))
    if res.votes[best] > 1 + 1e-6:  # above the standard picture's vote: say why, with this input's numbers
        p = xo.vote_parts(res, best)
        k, r, c = xo.feature_name(p.feature)
        three = lambda v: number(v, ".3f")  # noqa: E731
        st.info(t("xo.above_one", cls=xo.CLASSES[best], vote=three(p.vote), pos=three(p.evidence_for),
                  pos0=three(p.standard_for), neg=three(-p.evidence_against), neg0=three(-p.standard_against),
                  feature=t("xo.feature_label", filter=names[k], r=r, c=c), before=three(p.before),
                  after=three(p.after)))


st.title(t("xo.title"))
st.markdown(t("xo.intro"))
preset, grid = pick_preset()
grid = edit_grid(preset, grid)
publish("xo_grid", grid, xo.grid_text(grid))
res = xo.run(grid)
vote_seen = ask("xo.winner", {"grid": xo.grid_text(grid)}, "xo")  # predict first: the vote waits for the answer
if vote_seen:
    verdict(res, preset)
names = [t(f"xo.filter_{n}") for n in xo.FILTER_NAMES]
maps_seen = ask("xo.best_cell", {"grid": xo.grid_text(grid), "filter": 1}, "xo")  # the cross filter's strongest cell
# one stage at a time (a declared view, in the URL): a click reruns only the charts of the stage shown
# (predict first: every later stage is drawn from the maps, so it waits with them; the second round feeds the vote)
STAGES = {"conv": lambda: conv_tab(grid, res, names, maps_seen),
          "relu": lambda: relu_tab(res, names) if maps_seen else st.info(t("questions.hidden")),
          "pool": lambda: pool_tab(res, names) if maps_seen else st.info(t("questions.hidden")),
          "round2": lambda: round2_tab(res, names) if maps_seen and vote_seen else st.info(t("questions.hidden")),
          "vote": lambda: vote_tab(res, names) if vote_seen else st.info(t("questions.hidden"))}
view = widget(st.segmented_control, t("xo.view"), XO["xo_view"], format_func=labels("xo.tab_"), required=True)
STAGES[view]()
note(t("xo.note"))
