"""A protocol-level browser tab for tests (``bench/classroom.py``'s ``Session``) that also keeps the text of every
alert it is sent (``st.error`` / ``st.warning`` …) and when each progress bar's text arrived."""
from __future__ import annotations

import time

from bench.classroom import Session


class Tab(Session):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.alerts: list[str] = []
        self.progress_at: list[tuple[float, str]] = []  # (monotonic time, text), in order

    def _handle(self, msg) -> None:
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            kind = el.WhichOneof("type")
            if kind == "alert":
                self.alerts.append(el.alert.body)
            elif kind == "progress" and el.progress.text:
                self.progress_at.append((time.monotonic(), el.progress.text))
        super()._handle(msg)
