"""The radiology recipe (`pipelines/radiology.py`) end to end, shrunk: MR-like NIfTI volumes
simulated, ingested, checked, rendered, trained on and evaluated by the user-facing commands."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _recipe():
    sys.path.insert(0, str(ROOT / "pipelines"))  # as `python pipelines/radiology.py` does
    spec = importlib.util.spec_from_file_location("radiology", ROOT / "pipelines" /
                                                  "radiology.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["nifti", "dicom"])
def test_tiny_radiology_recipe_end_to_end(tmp_path, capsys, fmt):
    pytest.importorskip("nibabel" if fmt == "nifti" else "pydicom",
                        reason="the medical extra is not installed")
    result = _recipe().main(["--root", str(tmp_path), "--format", fmt, "--images", "8",
                             "--test-images", "4", "--slices", "4", "--size", "48",
                             "--iterations", "2", "--batch-size", "4", "--base-channels", "8"])
    out = capsys.readouterr().out
    for cmd in (f"$ gazeprep simulate data/radiology/sim --format {fmt}",
                "$ gazeprep ingest data/radiology/sim/raw", "$ gazeprep qc data/radiology/gaze",
                "$ gazeprep render --levels 4", "--exclude-flagged", "$ gazeprep score",
                "$ gradseg train", "$ gradseg eval"):
        assert cmd in out
    suffix = ".nii.gz" if fmt == "nifti" else ".dcm"
    images = sorted(p.name for p in (tmp_path / "data/radiology/sim/images").iterdir())
    assert images == [f"sim0_mr000{suffix}", f"sim0_mr001{suffix}"]
    assert "| trained gradtrack model, held-out volumes (`gradseg eval`) |" in out
    assert result["eval"]["n_images"] == 4 and result["score"]["n_images"] == 8
    dice = result["eval"]["dice"]
    assert isinstance(dice, float) and not math.isnan(dice) and 0.0 <= dice <= 1.0
    assert 0.5 <= result["score"]["pseudo_dice"] <= 1.0  # the gaze finds the lesions
    assert result["qc"][0]["trials"] == 8
