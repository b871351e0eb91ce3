"""Optimizers page in a real browser: the race is played with Streamlit controls from the keyboard
(the contours stay while each path grows with its head); a preset shows divergence."""
from __future__ import annotations

import time

from tests.browser.conftest import assert_no_exception, goto, wait_idle

STATE = """() => { const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const map = plots.find(g => (g.data || []).some(t => t.type === 'contour'));
  const gd = plots.find(g => (g._fullData || []).some(t => t.type === 'scatter' && t.mode === 'lines'));
  if (!map || !gd || !gd._fullData) return null;
  const line = gd._fullData.find(t => t.type === 'scatter' && t.mode === 'lines');
  const head = gd._fullData.find(t => t.type === 'scatter' && t.mode === 'markers' && t.showlegend === false
                                 && t.x && t.x.length === 1 && t.legendgroup === line.legendgroup);
  return {n: line.x.length, head: [head.x[0], head.y[0]], last: [line.x[line.x.length - 1], line.y[line.y.length - 1]],
          contours: map.querySelectorAll('.contourlevel path').length}; }"""

# Installed before Play: after every DOM change (a MutationObserver's callback, before the browser paints), is
# the drawn contour map the one drawn before Play (a remounted chart is a new element, blank until Plotly has
# redrawn it), and is there a drawn contour map at all? Counts each remount and each moment without the map,
# and records the race lengths seen (the paths' points, read from the chart holding the lines).
WATCH = """() => { const drawn = g => g.isConnected && (g.data || []).some(t => t.type === 'contour')
                                   && g.querySelectorAll('.contourlevel path').length > 20;
  const find = () => [...document.querySelectorAll('.js-plotly-plot')].find(drawn) || null;
  const length = () => { for (const g of document.querySelectorAll('.js-plotly-plot')) {
      const line = (g._fullData || []).find(t => t.type === 'scatter' && t.mode === 'lines');
      if (line && line.x) return line.x.length; } return null; };
  const w = {watched: find(), remounts: 0, blanks: 0, checks: 0, lengths: new Set(), missing: false};
  if (!w.watched) throw new Error('no drawn contour map before Play');
  const check = () => { w.checks++;
    if (w.watched && !w.watched.isConnected) { w.remounts++; w.watched = null; }
    if (!w.watched || !drawn(w.watched)) { w.watched = find(); }
    if (!w.watched) { if (!w.missing) w.blanks++; w.missing = true; } else w.missing = false;
    const n = length(); if (n !== null) w.lengths.add(n); };
  const observer = new MutationObserver(check);
  observer.observe(document.body, {childList: true, subtree: true});
  w.stop = () => observer.disconnect();
  window.__cxMap = w; }"""


def state(page):
    return page.evaluate(STATE)


def wait_state(page, condition: str, timeout: float = 30_000):
    """Wait until ``condition`` (JS, on ``s`` = the map's state) holds."""
    page.wait_for_function(f"() => {{ const s = ({STATE})(); return s !== null && ({condition}); }}", timeout=timeout)


def settled(page, timeout: float = 30.0) -> int:
    """The drawn length once it has stopped changing for a second (waits on the state, not a fixed time)."""
    import time

    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        now = state(page)["n"]
        if now == last:
            return now
        last = now
        page.wait_for_timeout(1000)
    raise AssertionError("the race did not stop")


def test_race_plays_and_steps_from_the_keyboard(page, app):
    goto(page, app, "optimizers", op_steps="200", op_speed="1.0")  # 41 frames at 1/s: a slow server can't reach the end
    assert_no_exception(page)
    wait_state(page, "s.n === 201 && s.contours > 20", timeout=120_000)  # first visit: the whole race, contours drawn
    full = state(page)
    assert full["head"] == full["last"]
    play = page.locator('[data-testid="stButton"] button', has_text="Play").first
    play.focus()
    page.keyboard.press("Enter")  # ▶ Play from the keyboard: the race restarts from the start
    wait_state(page, "s.n > 1 && s.n < 201 && s.contours > 20")
    early = state(page)
    wait_state(page, f"s.n > {early['n']}")  # the paths grow…
    grown = state(page)
    assert grown["contours"] > 20, "the loss surface stays while playing"
    assert grown["head"] == grown["last"], "each path's head is at the end of its drawn part"
    pause = page.locator('[data-testid="stButton"] button', has_text="Pause").first
    pause.focus()
    page.keyboard.press("Space")  # ⏸ Pause
    page.wait_for_selector('[data-testid="stButton"] button:has-text("Play")', timeout=15_000)
    stopped = settled(page)
    page.wait_for_timeout(1500)
    assert state(page)["n"] == stopped, "paused: nothing moves"
    assert stopped < 201
    # the step slider from the keyboard: → one frame on, End the whole race, Home the start. A learner acts on
    # a page that has finished updating: a late rerun (the pause's, under load) may re-create the slider and
    # drop the focus given before it
    wait_idle(page)
    thumb = page.get_by_role("group", name="Race frame").get_by_role("slider")
    thumb.focus()
    page.keyboard.press("ArrowRight")
    wait_state(page, f"s.n > {stopped}")
    page.keyboard.press("End")
    wait_state(page, "s.n === 201")
    page.keyboard.press("Home")
    wait_state(page, "s.n === 1 && s.contours > 20")
    assert "op_pos=1" in page.url  # the position is in the shareable link
    assert_no_exception(page)


def test_a_link_opens_the_race_at_its_step_and_a_preset_diverges(page, app):
    goto(page, app, "optimizers", op_steps="200", op_pos="11")
    wait_state(page, "s.n === 51", timeout=120_000)  # frame 11 of 41 = step 50 (a busy machine: the first render)
    assert_no_exception(page)
    page.get_by_role("button", name="SGD explodes, Adam doesn't").click()
    wait_idle(page)
    assert_no_exception(page)
    page.wait_for_selector("text=diverged at step", timeout=20_000)


def test_every_frame_of_play_shows_the_contour_map(page, app):
    """While playing, the map is in every frame (it was blank in ~40 % of them: the chart was remounted each
    frame because its figure changed; now the contours are a chart whose figure stays the same, the growing
    paths another one on top). Watched through the DOM, not through painted frames (a loaded headless
    Chromium paints too few to catch the blank ones): a MutationObserver sees every change of the page, and
    after each it checks that the contour map drawn before Play is still the one in the page (a remount
    detaches it) and that a drawn contour map is there at all."""
    page.goto(f"{app}/optimizers?op_steps=200&op_speed=8.0")
    wait_idle(page, timeout=120_000)  # a busy test machine: a cold server's first render
    wait_state(page, "s.n === 201 && s.contours > 20", timeout=120_000)
    page.evaluate(WATCH)
    page.locator('[data-testid="stButton"] button', has_text="Play").first.click()
    wait_state(page, "s.n < 201", timeout=60_000)  # playing from the start (frame 1 of 41: 1 point per path)
    # ten frames on (5 steps a frame) whatever the server's pace, or the first remount or moment without the map
    page.wait_for_function(f"""() => {{ const w = window.__cxMap, s = ({STATE})();
                                       return w.remounts + w.blanks > 0 || (s !== null && s.n >= 51); }}""",
                           timeout=90_000)
    seen = page.evaluate("() => { const w = window.__cxMap; w.stop();"
                         " return {remounts: w.remounts, blanks: w.blanks, checks: w.checks, lengths: [...w.lengths]}; }")
    frames = sorted(n for n in seen["lengths"] if n < 201)  # the race's lengths shown since Play
    assert seen["remounts"] == 0 and seen["blanks"] == 0, (
        f"during {len(frames)} frames of play the contour map was remounted {seen['remounts']} times and "
        f"missing from the page {seen['blanks']} times (after {seen['checks']} DOM changes)")
    assert len(frames) >= 8, seen  # the race moved on while watched (up to 11 lengths: 1, 6, …, 51)
    print(f"\nOptimizers Play: {len(frames)} frames, {seen['checks']} DOM changes, contour map never "
          f"remounted nor missing")
    assert_no_exception(page)


def test_a_timer_request_crossing_the_pause_keeps_the_page_connected(page, app):
    """The stepper's timer asks for a fragment rerun every tick; on a busy server one of them crosses the Pause
    click and runs after the pause's full rerun, with the list of cached messages the browser had when it sent
    it. Streamlit's message cache then answered with a reference to a frame the browser had dropped in between
    ("Cached ForwardMsg MISS"): the page disconnected for good (CI, and 4 of 28 runs of the keyboard test under
    load). Here an earlier timer request of this page is sent again right after the pause's request (the
    websocket routed through Playwright), so the crossing happens every time."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    timers, seen = [], {"armed": False, "replayed": False, "after": 0}

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            server.send(message)
            m = BackMsg.FromString(message)
            if m.WhichOneof("type") != "rerun_script":
                return
            if m.rerun_script.is_auto_rerun and m.rerun_script.fragment_id:
                timers.append(message)
            elif seen["armed"] and not m.rerun_script.fragment_id and len(timers) >= 2:
                seen["armed"] = False
                server.send(timers[-2])  # a timer request from two ticks before, arriving after the pause's
                seen["replayed"] = True

        def from_server(message):
            ws.send(message)
            m = ForwardMsg.FromString(message)
            if seen["replayed"] and m.WhichOneof("type") == "script_finished" and \
                    m.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                seen["after"] += 1  # the replayed timer request has run

        ws.on_message(from_page)
        server.on_message(from_server)

    page.route_web_socket("**/_stcore/stream", route)
    goto(page, app, "optimizers", op_steps="200", op_speed="2.0")
    wait_state(page, "s.n === 201 && s.contours > 20", timeout=120_000)
    page.locator('[data-testid="stButton"] button', has_text="Play").first.click()
    wait_state(page, "s.n > 1 && s.n < 201")
    for _ in range(2):  # two more ticks: the slider's frames age in the browser's cache
        wait_state(page, f"s.n > {state(page)['n']}")
    seen["armed"] = True
    page.locator('[data-testid="stButton"] button', has_text="Pause").first.click()
    deadline = time.time() + 30
    while not seen["after"] and time.time() < deadline:
        page.wait_for_timeout(100)
    assert seen["replayed"] and seen["after"], "the timer request was not sent again after the pause"
    # the page has handled the replayed run (its end), or has given up on the connection
    page.wait_for_function("""() => { const a = document.querySelector('[data-testid="stApp"]');
        const c = a.getAttribute('data-test-connection-state'), s = a.getAttribute('data-test-script-state');
        return c === 'DISCONNECTED_FOREVER' || (c === 'CONNECTED' && s === 'notRunning'); }""")
    wait_idle(page)  # fails with the browser's "Cached ForwardMsg MISS" when the page disconnected
    assert_no_exception(page)
    assert state(page)["contours"] > 20
