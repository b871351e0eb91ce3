"""Class poll: a lecturer asks the room a lesson's question ("Ask the class" in presenter mode), students answer on
their phones with the code or the QR code, the projector shows the answers live (ui/polls.py)."""
from __future__ import annotations

import ui.boot  # noqa: F401 — first: loads the app's modules once, before concurrent first sessions import them

from ui.polls import page

page()
