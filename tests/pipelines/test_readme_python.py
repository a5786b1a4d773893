"""The README's "From Python" block runs as written, on the data it simulates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _python_block(section: str) -> str:
    text = (ROOT / "README.md").read_text()
    part = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", part, flags=re.S)
    assert len(blocks) == 1, f"expected one python block in section {section!r}"
    return blocks[0]


@pytest.mark.slow
def test_readme_from_python_block_runs(tmp_path, monkeypatch, capsys) -> None:
    code = _python_block("From Python")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md: From Python", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert re.search(r"^[1-9][\d]* fixations on 24 images$", out, flags=re.M), out
    assert "24 images rendered" in out
    best = float(re.search(r"best validation Dice ([\d.]+)", out).group(1))
    held = float(re.search(r"held-out Dice ([\d.]+)", out).group(1))
    assert 0 <= best <= 1 and 0 <= held <= 1
    for p in ("gaze/tracks.parquet", "maps.zarr/zarr.json", "runs/api/best.pt",
              "runs/api/curves.png"):
        assert (tmp_path / p).is_file(), p
