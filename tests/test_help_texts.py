"""What every sub-command's --help says: nothing swallowed by the terminal markup, no pointer
to a place that does not say it, the formats and outputs the command really has."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

COMMANDS = {
    "gazeprep": ["ingest", "qc", "render", "score", "show", "simulate", "split", "export"],
    "gradseg": ["train", "bench", "refine", "eval", "predict"],
}


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, str], str]:
    """Each sub-command's --help on one wide line per text (whitespace and box rules folded)."""
    got = {}
    for tool, subs in COMMANDS.items():
        code = (f"from {tool}.cli import main\nfor sub in {subs!r}:\n    print('@@', sub)\n"
                "    try:\n        main([sub, '--help'])\n    except SystemExit:\n        pass\n")
        env = {**os.environ, "COLUMNS": "2000", "NO_COLOR": "1", "TERM": "dumb"}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        for block in out.stdout.split("@@ ")[1:]:
            sub, text = block.split("\n", 1)
            got[tool, sub] = re.sub(r"[\s│╭╮╰╯─]+", " ", text)
    return got


@pytest.mark.parametrize("sub", ["ingest", "render"])
def test_jobs_default_is_shown(helps, sub):
    # '[default: ...]' in a help string is rich markup and vanished ("usable cores . The").
    text = helps["gazeprep", sub]
    assert "every core this process may use" in text
    assert "cores . " not in text


@pytest.mark.parametrize("sub", ["eval", "predict"])
def test_text_cues_point_where_they_are_described(helps, sub):
    # README.md does not describe text cues; the Train page does (as train's --text says).
    text = helps["gradseg", sub]
    assert "see README" not in text
    assert "(docs: Train)" in text


def test_ingest_names_every_tracker_it_reads(helps):
    head = helps["gazeprep", "ingest"].split("Arguments")[0]
    for name in ("EyeLink", "Tobii", "SMI", "Pupil", "Gazepoint", "REFLACX"):
        assert name in head, name


def test_export_does_not_say_png_only(helps):
    # with --images, radiology is written as one-channel NIfTI at the file's own resolution
    text = helps["gazeprep", "export"]
    assert "NIfTI" in text.split("Options")[0]
