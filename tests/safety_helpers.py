"""Helpers shared by the test_safety_* files: file hashes, tiny inputs, CLI runs."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KVASIR_GAZE = DATA / "gazemedseg" / "kvasir_fixation.csv"
KVASIR_IMAGES = DATA / "kvasir-seg" / "images"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_hashes(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative posix path -> hex); ``skip``: top names."""
    root = Path(root)
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel.split("/")[0] not in skip:
            out[rel] = sha256(p)
    return out


def write_report(path: Path, images: list[str], seed: int, n: int = 6) -> Path:
    """A small GazeMedSeg-style fixation report (normalised coordinates) on ``images``."""
    rng = np.random.default_rng(seed)
    lines = ["IMAGE,CURRENT_FIX_INDEX,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION,"
             "CURRENT_FIX_START"]
    for image in images:
        t = 0
        for k in range(n):
            d = int(rng.integers(80, 600))
            x, y = rng.uniform(0.1, 0.9, 2)
            lines.append(f"{image}.png,{k + 1},{x:.4f},{y:.4f},{d},{t}")
            t += d + 40
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(tool: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m <tool>.cli args`` in a subprocess (real exit code, real stderr)."""
    return subprocess.run([sys.executable, "-m", f"{tool}.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


#: What a command may write on stderr besides its messages: its plain progress lines
#: (``ingest: started``, ``train: 0/40 steps``, ``score: 6/6 images (100%), ...``) and the
#: first-use compilation notice of the kernels.
PROGRESS_LINE = re.compile(r"^([a-z][\w ]*: (started|[\d,]+(/[\d,]+)? [a-z]+\b)"
                           r"|gazeprep: compiling kernels)")


def stderr_lines(stderr: str) -> list[str]:
    """The non-empty lines of a command's stderr, its progress lines left out."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not PROGRESS_LINE.match(ln)]


def error_line(stderr: str) -> str:
    """The one error line of a failed command (the hint line about --verbose excluded)."""
    lines = [ln for ln in stderr_lines(stderr) if not ln.startswith("(run again with --verbose")]
    assert len(lines) == 1, stderr
    return lines[0]
