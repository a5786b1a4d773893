"""What the recipes in ``pipelines/`` share: where the data is, and running the user-facing
commands the way a user would.

Each recipe is a script (``python pipelines/<name>.py``), so this folder is on ``sys.path``
and ``from _common import run`` works; a test that loads a recipe puts the folder there first.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

#: The project root.
ROOT = Path(__file__).resolve().parents[1]
#: The environment's console scripts (``gazeprep``, ``gradseg``) sit next to its python.
BIN = Path(sys.executable).parent
#: Where the real data is: ``$GAZE_DATA``, else ``../shared/data`` (as in tests/conftest.py).
DATA_ENV = "GAZE_DATA"


def data_dir() -> Path:
    """The folder holding the real data: ``$GAZE_DATA``, else ``../shared/data`` beside the
    project."""
    return Path(os.environ.get(DATA_ENV, ROOT.parent / "shared" / "data"))


def command(cmd: list[str]) -> list[str]:
    """``cmd`` with its program (``gazeprep``, ``gradseg``, ``python``...) resolved to this
    environment's console script when there is one (else it is looked up on ``PATH``)."""
    exe = BIN / cmd[0]
    return [str(exe) if exe.exists() else cmd[0], *map(str, cmd[1:])]


def run(cmd: list[str], cwd: Path = ROOT, *, capture: bool = False, echo: bool = True,
        label: str = "pipelines") -> str:
    """Run one command as a user types it; stop the recipe with its message if it fails.

    Parameters
    ----------
    cmd : list of str
        The command, e.g. ``["gazeprep", "ingest", "raw/", "--out", "data/gaze"]``.
    cwd : Path
        Working directory (relative paths in ``cmd`` are relative to it).
    capture : bool
        Return the command's stdout instead of only streaming it.
    echo : bool
        Print ``$ <cmd>``, the output and the time taken; ``False``: run silently (stdout
        and stderr discarded unless captured).
    label : str
        The recipe's name, for the failure message.

    Returns
    -------
    str
        Captured stdout ('' when not captured).

    Raises
    ------
    SystemExit
        ``<label>: `<cmd>` failed with exit code N``.
    """
    if echo:
        print(f"\n$ {shlex.join(map(str, cmd))}", flush=True)
    quiet = subprocess.DEVNULL if not echo else None
    t0 = time.perf_counter()
    res = subprocess.run(command(cmd), cwd=cwd, text=True,
                         stdout=subprocess.PIPE if capture else quiet, stderr=quiet)
    if echo and capture and res.stdout:
        print(res.stdout, end="" if res.stdout.endswith("\n") else "\n")
    if res.returncode != 0:
        raise SystemExit(f"{label}: `{shlex.join(map(str, cmd))}` failed with exit code "
                         f"{res.returncode}")
    if echo:
        print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return res.stdout or ""


def last_json(text: str, label: str = "pipelines") -> dict:
    """The last line of ``text`` that parses as a JSON object (a command's ``--json`` output
    after its progress lines), else the text from its first ``{``."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    try:
        return json.loads(text[text.index("{"):])
    except (ValueError, json.JSONDecodeError):
        raise SystemExit(f"{label}: expected a JSON object in the output, got:\n{text}") from None
