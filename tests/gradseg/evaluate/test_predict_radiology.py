"""`gradseg predict` on DICOM/NIfTI: NIfTI masks with the image's pixel spacing, probabilities,
a threshold."""

from __future__ import annotations

import numpy as np
import pytest

nib = pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")


def test_predict_writes_nifti_masks_and_probabilities(tmp_path, run_cli, untouched):
    sim = tmp_path / "sim"
    for tool, *args in (
            ("gazeprep", "simulate", sim, "--format", "nifti", "--images", "4", "--size", "48",
             "--seed", "0"),
            ("gazeprep", "ingest", sim / "raw", "--images", sim / "images", "--out",
             tmp_path / "gaze", "--jobs", "1"),
            ("gazeprep", "render", "--levels", "2", "--size", "32", "--gaze", tmp_path / "gaze",
             "--images", sim / "images", "--out", tmp_path / "c.zarr", "--jobs", "1"),
            ("gradseg", "train", "--cache", tmp_path / "c.zarr", "--iterations", "2",
             "--batch-size", "2", "--base-channels", "4", "--threads", "1", "--quiet",
             "--out", tmp_path / "run")):
        got = run_cli(tool, *args)
        assert got.returncode == 0, got.stderr
    check = untouched(sim)
    out = tmp_path / "pred"
    got = run_cli("gradseg", "predict", "--checkpoint", tmp_path / "run" / "best.pt",
                  "--images", sim / "images", "--out", out, "--save-probabilities",
                  "--threshold", "0.3", "--device", "cpu")
    assert got.returncode == 0, got.stderr
    assert "threshold 0.3" in got.stdout
    key = "sim0_mr000_0"
    mask = nib.load(out / f"{key}.nii.gz")
    prob = nib.load(out / f"{key}_probabilities.nii.gz")
    assert mask.shape == prob.shape == (48, 48, 1)
    assert mask.header.get_zooms()[:2] == pytest.approx((0.8, 0.8))  # the image's spacing
    p = prob.get_fdata()
    assert p.min() >= 0 and p.max() <= 1
    np.testing.assert_array_equal(np.asarray(mask.dataobj) > 0, p >= 0.3)
    assert (out / f"{key}_overlay.png").is_file() and not (out / f"{key}.png").exists()
    check()
    # the outputs are refused next time, by their real names
    again = run_cli("gradseg", "predict", "--checkpoint", tmp_path / "run" / "best.pt",
                    "--images", sim / "images", "--out", out, "--device", "cpu")
    assert again.returncode == 1 and ".nii.gz" in again.stderr
