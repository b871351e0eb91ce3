"""A small drawing canvas of our own (Streamlit components v2): draw a digit with mouse, pen or finger.

On every stroke's end the drawing is sent to Python as a 56×56 grid of grey levels (0–255), which is
``preprocess_drawing``'s input. (streamlit-drawable-canvas doesn't import under Streamlit 1.67.)
"""
from __future__ import annotations

import numpy as np
import streamlit as st

CANVAS_SIDE = 280  # the drawing area in CSS pixels
GRID = 56  # the drawing is sent to Python at GRID × GRID (preprocess_drawing's input)

_HTML = """
<div class="cx-wrap">
  <canvas class="cx-canvas" width="__SIDE__" height="__SIDE__" role="img" aria-label="{label}"></canvas>
  <div><button class="cx-clear" type="button">{clear}</button></div>
</div>
"""
_CSS = """
.cx-wrap { display: flex; flex-direction: column; gap: .5rem; align-items: flex-start; }
.cx-canvas { background: #000; border-radius: 6px; touch-action: none; cursor: crosshair;
             width: __SIDE__px; height: __SIDE__px; }
.cx-clear { font: inherit; padding: .3rem .9rem; min-height: 44px; min-width: 44px; border-radius: .5rem; border: 1px solid #bbb;
            background: var(--st-background-color, #fff); color: var(--st-text-color, #222); cursor: pointer; }
"""
_JS = """
export default function(component) {
  const { parentElement, setStateValue, data } = component;
  const canvas = parentElement.querySelector('.cx-canvas');
  const clear = parentElement.querySelector('.cx-clear');
  if (!canvas || canvas.dataset.ready) return;
  canvas.dataset.ready = '1';
  if (data && data.clear_label) clear.textContent = data.clear_label;
  if (data && data.label) canvas.setAttribute('aria-label', data.label);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000'; ctx.fillRect(0, 0, __SIDE__, __SIDE__);
  ctx.strokeStyle = '#fff'; ctx.lineWidth = 20; ctx.lineCap = 'round'; ctx.lineJoin = 'round';
  let drawing = false, last = null;
  const pos = (e) => { const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * __SIDE__ / r.width, (e.clientY - r.top) * __SIDE__ / r.height]; };
  const send = () => {
    const small = document.createElement('canvas'); small.width = __GRID__; small.height = __GRID__;
    const sctx = small.getContext('2d'); sctx.drawImage(canvas, 0, 0, __GRID__, __GRID__);
    const px = sctx.getImageData(0, 0, __GRID__, __GRID__).data; const grey = new Array(__GRID__ * __GRID__);
    for (let i = 0; i < __GRID__ * __GRID__; i++) grey[i] = px[4 * i];
    setStateValue('drawing', grey);
  };
  canvas.addEventListener('pointerdown', (e) => { drawing = true; last = pos(e); canvas.setPointerCapture(e.pointerId);
    ctx.beginPath(); ctx.arc(last[0], last[1], 10, 0, 2 * Math.PI); ctx.fillStyle = '#fff'; ctx.fill(); });
  canvas.addEventListener('pointermove', (e) => { if (!drawing) return; const p = pos(e);
    ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke(); last = p; });
  const end = () => { if (drawing) { drawing = false; send(); } };
  canvas.addEventListener('pointerup', end); canvas.addEventListener('pointerleave', end);
  clear.addEventListener('click', () => { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, __SIDE__, __SIDE__);
    setStateValue('drawing', null); });
}
"""

# one source for the sizes: the HTML, CSS and JS above use __SIDE__ and __GRID__
_HTML, _CSS, _JS = (text.replace("__SIDE__", str(CANVAS_SIDE)).replace("__GRID__", str(GRID)) for text in (_HTML, _CSS, _JS))


_component = None


def draw_canvas(key: str, clear_label: str, label: str = "") -> np.ndarray | None:
    """Show the canvas; returns the drawing as uint8 (GRID, GRID) (white ink on black) or None.
    ``label``: the canvas's accessible name (what a screen reader announces)."""
    global _component
    if _component is None:
        _component = st.components.v2.component("digit_canvas", html=_HTML.format(clear="Clear", label=""), css=_CSS, js=_JS)
    result = _component(key=key, data={"clear_label": clear_label, "label": label}, default={"drawing": None},
                        on_drawing_change=lambda: None, width=300, height=340)
    pixels = getattr(result, "drawing", None) if result is not None else None
    if not pixels:
        return None
    try:
        arr = np.asarray(pixels, dtype=np.float64)
    except (TypeError, ValueError):  # not a flat list of numbers (a hostile client): no drawing
        return None
    if arr.size != GRID * GRID or not np.all(np.isfinite(arr)):
        return None
    return np.clip(arr, 0, 255).astype(np.uint8).reshape(GRID, GRID)
