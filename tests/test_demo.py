"""The demo (`make demo`) end to end, shrunk: every user-facing command runs as a subprocess."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _demo_module():
    spec = importlib.util.spec_from_file_location("demo", ROOT / "pipelines" / "demo.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_tiny_demo_end_to_end(tmp_path, capsys):
    demo = _demo_module()
    result = demo.main(["--root", str(tmp_path), "--images", "10", "--test-images", "2",
                        "--size", "64", "--iterations", "2", "--batch-size", "4",
                        "--base-channels", "8", "--shows", "1"])
    out = capsys.readouterr().out
    for cmd in ("$ gazeprep simulate data/sim ", "$ gazeprep ingest data/sim/raw",
                "$ gazeprep render --levels 4", "$ gazeprep score", "$ gradseg train",
                "$ gradseg eval", "$ gradseg predict", "$ gazeprep show"):
        assert cmd in out
    assert "| trained gradtrack model, held-out images (`gradseg eval`) |" in out
    dice = result["dice"]
    assert isinstance(dice, float) and not math.isnan(dice) and 0.0 <= dice <= 1.0
    assert 0.0 <= result["score"]["pseudo_dice"] <= 1.0
    assert (tmp_path / "runs/demo/best.pt").exists()
    assert (tmp_path / "data/maps.zarr").is_dir()
    pics = result["pictures"]
    assert any(p.startswith("data/demo/show_") for p in pics)
    assert sum(p.startswith("data/demo/predictions/") for p in pics) == 4  # 2 masks + overlays
    for p in pics:
        assert (tmp_path / p).stat().st_size > 0
