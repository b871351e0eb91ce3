"""Refresh the tracked screenshots in docs/screenshots/ on purpose:

    python -m tests.browser.screenshots            # every browser test, saving its screenshots there
    python -m tests.browser.screenshots -k stride  # only some (any pytest arguments)

An ordinary test run writes its screenshots to a temporary folder and never touches docs/.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    os.environ["CX_SCREENSHOTS_DIR"] = str(ROOT / "docs" / "screenshots")
    return pytest.main([str(ROOT / "tests" / "browser"), "-q", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
