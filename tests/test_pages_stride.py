"""AppTest of the Stride & padding page: every part, both languages, stepping, presets, bad input."""
import json

import pytest

from explainer.i18n import translate
from tests.conftest import app_test
from ui.tables.stride import VIEWS


def charts(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def filled_outputs(at) -> int:
    """Numbers shown in the output figure (the chart whose colour bar is titled 'output')."""
    for spec in charts(at):
        traces = [tr for tr in spec["data"] if tr.get("type") == "heatmap"]
        if traces and traces[-1].get("colorbar", {}).get("title", {}).get("text") in ("output", "输出"):
            return sum(1 for tr in traces for row in tr["text"] for v in row if v != "")
    raise AssertionError("no output figure")


def text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("view", VIEWS)
def test_every_part_renders_in_both_languages(view, lang):
    at = app_test("stride", lang=lang, sp_view=view).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == translate("stride.title", lang)
    # the chosen view's own section, in this language, and its charts, each named
    assert at.segmented_control(key="sp_view").value == view
    assert at.header[0].value == translate(f"stride.{view}_header", lang)
    assert translate(f"stride.{view}_intro", lang) in [m.value for m in at.markdown]
    assert at.get("plotly_chart") and all(ch.proto.alt for ch in at.get("plotly_chart"))


def test_defaults_show_the_formula_and_first_step():
    at = app_test("stride").run()
    latex = [e.value for e in at.latex]
    assert any(r"\left\lfloor \frac{4}{2} \right\rfloor + 1 = 3" in v for v in latex) and len(latex) == 3  # + the tutorial form
    assert "output **3×3**" in text(at) and "Step **1 of 9**" in text(at)
    assert filled_outputs(at) == 1
    # the padding ring is its own trace with padding cells; the window is drawn as a shape
    grid = charts(at)[0]
    assert any("padding" in str(tr.get("customdata")) for tr in grid["data"][1:2])
    assert grid["layout"]["shapes"]


def test_next_back_last_first_and_filled_cells_stay_filled():
    at = app_test("stride").run()
    at.button(key="sp_next").click().run()
    at.button(key="sp_next").click().run()
    assert at.slider(key="sp_pos").value == 3 and filled_outputs(at) == 3
    assert "Step **3 of 9**" in text(at)
    at.button(key="sp_prev").click().run()
    assert filled_outputs(at) == 2
    at.button(key="sp_last").click().run()
    assert at.slider(key="sp_pos").value == 9 and filled_outputs(at) == 9
    assert at.button(key="sp_next").disabled  # nothing after the end (a click did nothing)
    assert at.slider(key="sp_pos").value == 9
    at.slider(key="sp_pos").set_value(5).run()
    assert filled_outputs(at) == 5
    at.button(key="sp_first").click().run()
    assert filled_outputs(at) == 1 and not at.exception


def test_step_equation_matches_the_output_cell():
    at = app_test("stride").run()
    at.slider(key="sp_pos").set_value(5).run()  # centre cell of 3×3
    eq = [m.value for m in at.markdown if m.value.startswith("`")][0]
    assert eq.count("×") == 9 and "Step **5 of 9**: the window fills output cell row 1, column 1" in text(at)


class FakeClock:
    """Stands in for ``ui.stepper.clock``: time moves only when the test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock(monkeypatch):
    import ui.stepper

    clock = FakeClock()
    monkeypatch.setattr(ui.stepper, "clock", clock)
    return clock


def test_play_advances_one_step_per_interval_then_pause_stops(fake_clock):
    from ui.stepper import TICK_SLACK

    at = app_test("stride").run()
    at.select_slider(key="sp_speed").set_value(4.0).run()
    interval = 1 / 4.0
    at.button(key="sp_play").click().run()
    assert at.session_state["_sp_playing"] is True
    start = at.slider(key="sp_pos").value
    fake_clock.advance(TICK_SLACK * interval * 0.9)  # reruns before the interval is up (however slow): no step
    for _ in range(3):
        at.run()
        assert at.slider(key="sp_pos").value == start
    fake_clock.advance(interval - TICK_SLACK * interval * 0.9)
    at.run()
    assert at.slider(key="sp_pos").value == start + 1
    for k in (2, 3, 4):
        fake_clock.advance(interval)
        at.run()
        assert at.slider(key="sp_pos").value == start + k and filled_outputs(at) == start + k
    at.button(key="sp_play").click().run()  # now "Pause"
    assert at.session_state["_sp_playing"] is False
    stopped = at.slider(key="sp_pos").value
    assert stopped == start + 4
    fake_clock.advance(5 * interval)
    at.run()
    assert at.slider(key="sp_pos").value == stopped and not at.exception


def test_stale_slider_reports_keep_the_step_and_moves_by_hand_are_taken(fake_clock):
    """The browser may report the slider's value from when play began (it never moved the slider itself) after
    the pause: the paused step stays. While playing it reports steps shown earlier: the current one stays. A
    move by hand, even one step back right after the pause, is taken at once."""
    at = app_test("stride").run()
    at.select_slider(key="sp_speed").set_value(4.0).run()
    at.button(key="sp_play").click().run()
    start = at.slider(key="sp_pos").value
    for _ in range(3):
        fake_clock.advance(0.25)
        at.run()
    playing_at = at.slider(key="sp_pos").value
    at.slider(key="sp_pos").set_value(playing_at - 1).run()  # a lagging report while playing: a step shown before
    assert at.slider(key="sp_pos").value == playing_at
    at.button(key="sp_play").click().run()  # Pause
    stopped = at.slider(key="sp_pos").value
    assert stopped == start + 3
    fake_clock.advance(2.0)  # the stale report arrives a little later
    at.slider(key="sp_pos").set_value(start).run()
    assert at.slider(key="sp_pos").value == stopped and not at.exception
    at.slider(key="sp_pos").set_value(stopped - 1).run()  # by hand, one step back at once: taken
    assert at.slider(key="sp_pos").value == stopped - 1
    at.slider(key="sp_pos").set_value(start).run()  # by hand, now to where play began: taken
    assert at.slider(key="sp_pos").value == start


def test_the_browsers_lagging_url_does_not_move_the_stepper_back(fake_clock):
    """A rerun the browser sent before the newest URL arrived carries a step this session published earlier (seen
    in a real browser: right after a pause the race jumped back to where play began). It is not a shared link."""
    at = app_test("stride").run()
    start = at.slider(key="sp_pos").value
    assert at.query_params["sp_pos"] == str(start)  # published on the first run
    at.select_slider(key="sp_speed").set_value(4.0).run()
    at.button(key="sp_play").click().run()
    for _ in range(3):
        fake_clock.advance(0.25)
        at.run()
    at.button(key="sp_play").click().run()  # Pause
    stopped = at.slider(key="sp_pos").value
    assert stopped == start + 3 and at.query_params["sp_pos"] == str(stopped)
    at.query_params["sp_pos"] = str(start)  # the browser's URL, one step behind
    at.run()
    assert at.slider(key="sp_pos").value == stopped and not at.exception


def _played_to_the_end(fake_clock, start: int, ticks: int):
    """The Stride stepper at 4 steps a second, played from ``start`` for ``ticks`` timer reruns."""
    at = app_test("stride").run()
    at.select_slider(key="sp_speed").set_value(4.0).run()
    at.slider(key="sp_pos").set_value(start).run()
    at.button(key="sp_play").click().run()
    for _ in range(ticks):
        fake_clock.advance(0.25)
        at.run()
    return at


def test_play_stops_at_the_last_step(fake_clock):
    at = _played_to_the_end(fake_clock, 8, 3)
    assert at.slider(key="sp_pos").value == 9 and at.session_state["_sp_playing"] is False and not at.exception


def test_a_lagging_report_right_after_the_end_keeps_the_last_step(fake_clock):
    """Play ends by itself at the last step; a fragment timer request still in flight carries the step before
    it (CI's browser test saw the walk end on 8 of 9). The last step stays; a little later a move by hand is
    taken, and the Back button steps back at once."""
    at = _played_to_the_end(fake_clock, 6, 5)
    assert at.slider(key="sp_pos").value == 9 and at.session_state["_sp_playing"] is False
    fake_clock.advance(0.3)
    at.slider(key="sp_pos").set_value(8).run()  # the lagging report
    assert at.slider(key="sp_pos").value == 9 and filled_outputs(at) == 9 and not at.exception
    at.button(key="sp_prev").click().run()  # by hand with the button: taken at once
    assert at.slider(key="sp_pos").value == 8
    at.button(key="sp_last").click().run()
    fake_clock.advance(5.0)
    at.slider(key="sp_pos").set_value(7).run()  # by hand with the slider, later: taken
    assert at.slider(key="sp_pos").value == 7


def test_changing_settings_changes_the_output_size():
    at = app_test("stride").run()
    at.slider(key="sp_s").set_value(1).run()
    assert "output **5×5**" in text(at)
    at.slider(key="sp_d").set_value(2).run()  # span 5 with padding 1 on 5: 3×3
    assert "output **3×3**" in text(at)
    at.selectbox(key="sp_mode").set_value("reflect").run()
    assert not at.exception and not at.error


@pytest.mark.parametrize("preset,size", [("valid", "3×3"), ("same", "5×5"), ("full", "7×7")])
def test_padding_presets(preset, size):
    at = app_test("stride").run()
    at.slider(key="sp_s").set_value(1).run()
    at.segmented_control(key="sp_preset").set_value(preset).run()
    assert f"output **{size}**" in text(at) and not at.exception


def test_uncovered_rows_are_reported():
    at = app_test("stride").run()
    at.slider(key="sp_h").set_value(6).run()
    at.slider(key="sp_p").set_value(0).run()
    warnings = [w.value for w in at.warning]
    assert warnings and "rows 5" in warnings[0] and "columns —" in warnings[0]


@pytest.mark.parametrize("bad,lang", [("1 2\n3", "en"), ("1 x 3", "zh"), ("nan 1", "en"), ("inf", "zh")])
def test_bad_kernel_text_shows_a_message_and_keeps_the_last_view(bad, lang):
    at = app_test("stride", lang=lang).run()
    before = len(at.get("plotly_chart"))
    at.text_area(key="sp_kernel").input(bad).run()
    assert not at.exception
    assert len(at.error) == 1 and "Traceback" not in at.error[0].value
    assert len(at.get("plotly_chart")) == before  # the last good view stays


def test_a_shared_link_with_a_bad_kernel_shows_the_default_kernel():
    at = app_test("stride", lang="zh", sp_kernel="1 x").run()
    assert len(at.error) == 1 and "不是数字" in at.error[0].value and not at.exception
    assert "卷积核 3×3" in text(at) and len(at.get("plotly_chart")) == 3


def test_custom_kernel_is_used():
    at = app_test("stride").run()
    at.text_area(key="sp_kernel").input("1 1\n1 1").run()
    assert not at.error and "kernel 2×2" in text(at) and "output **3×3**" in text(at)


def test_settings_without_output_keep_the_last_view():
    at = app_test("stride").run()
    at.slider(key="sp_p").set_value(0).run()
    at.slider(key="sp_k").set_value(5).run()
    at.slider(key="sp_d").set_value(3).run()  # span 13 > 5: no output
    s = at.slider(key="sp_s").value
    assert [e.value for e in at.error] == [translate("errors.no_output", "en", n=5, k=5, d=3, p=0, s=s)]
    assert "output **1×1**" in text(at)  # the last valid view (k 5, d 1)
    at.session_state["lang"] = "zh"
    at.run()
    assert [e.value for e in at.error] == [translate("errors.no_output", "zh", n=5, k=5, d=3, p=0, s=s)]


def test_real_image_region():
    at = app_test("stride", sp_input="image").run()
    assert not at.exception and not at.error
    assert "output **4×4**" in text(at)  # 8×8 region, k 3, s 2, p 1


def test_tutorial_channels_preset():
    at = app_test("stride", sp_view="channels").run()
    at.slider(key="sp_ck").set_value(3).run()
    at.button(key="sp_tutorial").click().run()
    assert "output **3×3×2**" in text(at) and "6 kernel slices" in text(at) and "56 parameters" in text(at)
    assert any("= 56" in e.value for e in at.latex)
    at.button(key="sp_c_last").click().run()
    assert at.slider(key="sp_c_pos").value == 18
    at.segmented_control(key="sp_csrc").set_value("image").run()
    assert not at.exception and not at.error


def test_transposed_output_size_and_agreement():
    at = app_test("stride", sp_view="transposed").run()
    assert "**5×5**" in text(at) and "✓" in text(at)
    at.slider(key="sp_tp").set_value(1).run()
    at.slider(key="sp_tpad").set_value(1).run()
    assert "**4×4**" in text(at) and "✓" in text(at)
    at.slider(key="sp_ts").set_value(1).run()  # output padding 1 needs stride 2: message, last view stays
    assert len(at.error) == 1 and "**4×4**" in text(at)


def test_receptive_field_presets_and_cell():
    at = app_test("stride", sp_view="receptive").run()
    frames = [f.value for f in at.dataframe if "Receptive field" in f.value.columns]
    assert list(frames[0]["Receptive field"]) == [3, 5, 6, 10, 14, 16]
    assert list(frames[0]["Jump"]) == [1, 1, 2, 2, 2, 4]
    assert list(frames[1]["Receptive field"]) == [5, 5, 7, 7]
    assert list(frames[1]["Parameters"]) == [2 * (9 * 64 * 64 + 64), 25 * 64 * 64 + 64, 3 * (9 * 64 * 64 + 64),
                                             49 * 64 * 64 + 64]
    at.selectbox(key="sp_rpreset").set_value("dilated").run()
    frames = [f.value for f in at.dataframe if "Receptive field" in f.value.columns]
    assert list(frames[0]["Receptive field"]) == [3, 7, 13]
    at.slider(key="sp_rr").set_value(0).run()
    # dilations 1, 2, 3 fill each other's gaps: the whole 13×13 span, no holes (holes: tests/test_receptive.py)
    fig = [c for c in charts(at) if c["data"][0].get("zmax") == 1][0]
    inside = sum(v != "" for row in fig["data"][0]["text"] for v in row)
    assert inside == 13 * 13 and not at.exception
    assert f"sees a 13×13 span: {inside} input pixels" in fig["layout"]["title"]["text"]


def test_transposed_without_output_explains_that_padding_crops():
    at = app_test("stride", sp_view="transposed", sp_tn=1, sp_tk=1, sp_ts=1).run()
    at.slider(key="sp_tp").set_value(3).run()
    assert len(at.error) == 1 and "use less padding" in at.error[0].value
    assert "**1×1**" in text(at)  # the last good view stays


def test_crop_top_survives_a_visit_to_the_transposed_view():
    """The crop's top row and the transposed view's output padding once shared the key ``sp_top``."""
    at = app_test("stride", sp_input="image").run()
    top = at.slider(key="sp_top")
    top.set_value(top.max // 2 or top.max).run()
    chosen = at.slider(key="sp_top").value
    assert chosen > 0
    at.segmented_control(key="sp_view").set_value("transposed").run()
    at.segmented_control(key="sp_view").set_value("stepper").run()
    assert not at.exception and at.slider(key="sp_top").value == chosen


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_tutorial_button_from_the_default_view_sets_up_the_example(lang):
    """At the defaults (the stepper view) the button visibly sets up the tutorial's 5×5 / padding 1 example."""
    from explainer.i18n import translate

    at = app_test("stride", lang).run()
    assert at.segmented_control(key="sp_view").value == "stepper"
    at.button(key="sp_tutorial").click().run()
    assert not at.exception
    assert at.segmented_control(key="sp_view").value == "channels"
    assert at.success and at.success[0].value == translate("stride.tutorial_done", lang)
    assert at.slider(key="sp_cn").value == 5 and at.slider(key="sp_cp").value == 1
    assert at.slider(key="sp_c_pos").value == 1 and at.query_params["sp_view"] == "channels"


def test_tutorial_formula_beside_the_floor_form():
    from explainer.i18n import translate

    at = app_test("stride").run()  # 5×5, kernel 3, stride 2, padding 1: (5 − 3 + 2)/2 + 1 = 3
    latex = [e.value for e in at.latex]
    assert any(r"\frac{5 - 3 + 2\cdot1}{2} + 1 = 3" in v for v in latex)
    assert any(r"\left\lfloor" in v for v in latex)
    assert translate("stride.formula_agree", "en") in [c.value for c in at.caption]
    at.slider(key="sp_p").set_value(0).run()  # (5 − 3 + 0)/2 + 1 = 2 still whole
    at.slider(key="sp_k").set_value(2).run()  # (5 − 2)/2 + 1 = 2.5: the tutorial's form gives a fraction
    assert any("= 2.5" in e.value for e in at.latex)
    assert translate("stride.formula_differ", "en") in [c.value for c in at.caption]


def test_chinese_labels_are_chinese():
    """Valid/Same/Full, one-cycle and the Kernels page's button read in Chinese (the English term in brackets)."""
    import re

    from explainer.i18n import translate

    cjk = re.compile(r"[\u4e00-\u9fff]")
    for key in ("stride.preset_valid", "stride.preset_same", "stride.preset_full", "train.one_cycle"):
        assert cjk.search(translate(key, "zh")), key
    assert translate("kernels.view_explore", "zh") in translate("kernels.step_open", "zh")


def test_a_lagging_url_does_not_undo_a_widget_change_but_a_new_link_value_applies():
    """ui.shell.from_outside: a value this session published on this page is the browser's URL lagging behind
    (quick clicks on a busy server), not a link; a value it never published is."""
    at = app_test("stride").run()
    first = at.slider(key="sp_k").value
    at.slider(key="sp_k").set_value(first + 2).run()
    assert at.query_params["sp_k"] == str(first + 2)
    at.query_params["sp_k"] = str(first)  # a rerun that carries the URL from before the change
    at.run()
    assert at.slider(key="sp_k").value == first + 2 and not at.exception
    at.query_params["sp_k"] = str(first + 1)  # never published in this session: a link from outside
    at.run()
    assert at.slider(key="sp_k").value == first + 1


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("k,p", [(1, 1), (2, 2), (1, 3), (3, 3)])
def test_transposed_padding_at_or_above_the_kernel_crops_without_a_crash(k, p, lang):
    """/stride?sp_view=transposed&sp_tk=1&sp_tp=1 raised IndexError in the walk (issue 21, item 4): a padding at or
    above the kernel size crops input rows off the stretched grid (the text's negative border)."""
    from tests import pagewalk

    at = pagewalk.run_page("stride", {"sp_view": "transposed", "sp_tk": str(k), "sp_tp": str(p), "sp_tn": "5"},
                           lang=lang)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    border = k - 1 - p
    assert f"{border}" in text(at) and ("negative means cropped" in text(at) if lang == "en" else "负数表示裁掉" in text(at))
    for _ in range(3):  # step on: every step shows
        at.button(key="sp_t_next").click().run()
        assert not at.exception, [e.value for e in at.exception]


def test_next_and_last_are_disabled_at_the_last_step_previous_and_first_at_the_first():
    """Issue 21 item 15: Next stayed enabled at the last step (a click did nothing)."""
    at = app_test("stride", timeout=120).run()
    at.button(key="sp_last").click().run()
    assert "Step **9 of 9**" in text(at)
    assert at.button(key="sp_next").disabled, "Next stays enabled at the last step (step 9 of 9)"
    assert at.button(key="sp_last").disabled, "Last stays enabled at the last step (step 9 of 9)"
    assert not at.button(key="sp_prev").disabled and not at.button(key="sp_first").disabled
    at.button(key="sp_prev").click().run()
    assert not at.button(key="sp_next").disabled and "Step **8 of 9**" in text(at)
    at.button(key="sp_first").click().run()
    assert "Step **1 of 9**" in text(at)
    assert at.button(key="sp_prev").disabled, "Previous stays enabled at the first step"
    assert at.button(key="sp_first").disabled, "First stays enabled at the first step"
    assert not at.button(key="sp_next").disabled and not at.button(key="sp_last").disabled


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_negative_number_in_a_message_has_a_true_minus(lang):
    """Issue 21 item 16: "output of size -1" used a hyphen where the page writes "−"."""
    at = app_test("stride", lang, timeout=120, sp_view="transposed", sp_tn=1, sp_tk=1, sp_tp=1).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "−1" in errors[0] and "-1" not in errors[0], errors
