"""`gradseg predict` on NIfTI volumes: a NIfTI mask per volume with its affine, probabilities,
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
    # one NIfTI per volume, in the volume's own voxel grid and affine; an overlay per slice
    source = nib.load(sim / "images" / "sim0_mr000.nii.gz")
    mask = nib.load(out / "sim0_mr000.nii.gz")
    prob = nib.load(out / "sim0_mr000_probabilities.nii.gz")
    assert mask.shape == prob.shape == source.shape
    np.testing.assert_array_equal(mask.affine, source.affine)
    assert mask.header.get_zooms()[:2] == pytest.approx((0.8, 0.8))  # the image's spacing
    assert prob.get_data_dtype() == np.float32
    p = prob.get_fdata()
    assert p.min() >= 0 and p.max() <= 1
    np.testing.assert_array_equal(np.asarray(mask.dataobj) > 0, p >= 0.3)
    assert (out / "sim0_mr000_0_overlay.png").is_file()
    assert not (out / "sim0_mr000_0.png").exists()
    assert not (out / "sim0_mr000_0.nii.gz").exists()
    check()
    # the outputs are refused next time, by their real names
    again = run_cli("gradseg", "predict", "--checkpoint", tmp_path / "run" / "best.pt",
                    "--images", sim / "images", "--out", out, "--device", "cpu")
    assert again.returncode == 1 and ".nii.gz" in again.stderr
