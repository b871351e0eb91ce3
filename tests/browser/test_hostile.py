"""User text in a real browser (issue 11 item 12): a link's bad value is shown literally in the notice,
never rendered as an image, a link, HTML, LaTeX or a Streamlit directive, and nothing is fetched."""
from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_exception, goto

HOST = "127.0.0.1:9"  # nothing listens there; a request to it means the markup was rendered
PAYLOADS = [
    f"![x](http://{HOST}/p.png)",
    f"[a](http://{HOST}/)<b>b</b>",
    ":red[r] $x^2$ <i>i</i> **s**",
    "www.example.com a@example.com :smile:",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_bad_url_value_shown_literally(page, app, payload):
    requests = []
    page.on("request", lambda r: requests.append(r.url) if HOST in r.url else None)
    goto(page, app, "images", im_src=payload)
    assert_no_exception(page)
    toast = page.locator('[data-testid="stToast"]').first
    toast.wait_for(timeout=45_000)
    shown = toast.inner_text().replace("\n", "").replace("\u2060", "")  # (invisible word joiners)
    assert payload in shown  # every character as it was sent
    assert toast.locator("img, a, b, i, strong, .katex, [data-testid='stMarkdownColoredText']").count() == 0
    assert "😄" not in shown
    assert not requests
