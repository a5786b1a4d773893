"""Where the real data is (``$GAZE_DATA``, by default ``../shared/data`` beside the project):
a module, not a conftest, so test modules can import it (several folders have a conftest.py,
and pytest keeps whichever it imported last under that name)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "GAZE_DATA"


def data_root() -> Path:
    """The folder holding the real data: ``$GAZE_DATA``, else ``../shared/data``."""
    return Path(os.environ.get(DATA_ENV, ROOT.parent / "shared" / "data"))
