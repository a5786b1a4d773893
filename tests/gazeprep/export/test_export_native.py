"""`gazeprep export --images`: each image at its own resolution; radiology as one-channel NIfTI
of its own values and spacing, which nnU-Net's own dataset check accepts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from PIL import Image

nib = pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")


def _dataset(tmp_path, run_cli, fmt: str):
    """A simulated radiology set (``fmt`` dicom|nifti, 64 px slices) rendered at 32 px."""
    sim = tmp_path / "sim"
    for args in (("simulate", sim, "--format", fmt, "--images", "4", "--size", "64", "--seed",
                  "0"),
                 ("ingest", sim / "raw", "--images", sim / "images", "--out", tmp_path / "gaze",
                  "--jobs", "1"),
                 ("render", "--levels", "2", "--size", "32", "--gaze", tmp_path / "gaze",
                  "--images", sim / "images", "--masks", sim / "masks", "--out",
                  tmp_path / "maps.zarr", "--jobs", "1")):
        got = run_cli("gazeprep", *args)
        assert got.returncode == 0, got.stderr
    return sim, tmp_path / "maps.zarr"


def test_nifti_sources_export_as_nifti_at_their_own_size_and_spacing(tmp_path, run_cli,
                                                                     untouched):
    from gazeprep.contract.images import ImageOptions, index_folder
    from gazeprep.contract.source import read_values

    sim, cache = _dataset(tmp_path, run_cli, "nifti")
    check = untouched(sim)
    got = run_cli("gazeprep", "export", "--to", "nnunet", "--cache", cache, "--out",
                  tmp_path / "raw", "--images", sim / "images")
    assert got.returncode == 1 and "give --modality" in got.stderr  # NIfTI has no modality
    got = run_cli("gazeprep", "export", "--to", "nnunet", "--cache", cache, "--out",
                  tmp_path / "raw", "--images", sim / "images", "--modality", "MR")
    assert got.returncode == 0, got.stderr
    folder = tmp_path / "raw" / "Dataset501_Gaze"
    desc = json.loads((folder / "dataset.json").read_text())
    assert desc["channel_names"] == {"0": "MR"} and desc["file_ending"] == ".nii.gz"
    g = zarr.open_group(str(cache), mode="r")
    refs = index_folder(sim / "images", ImageOptions())
    ids = [str(i) for i in g["sample"][:]]
    assert desc["numTraining"] == len(ids) == 4  # --images 4: four slices
    for k, key in enumerate(ids[:5]):
        image = nib.load(folder / "imagesTr" / f"{key}_0000.nii.gz")
        label = nib.load(folder / "labelsTr" / f"{key}.nii.gz")
        source = read_values(refs[key])  # (rows, columns), the file's own values
        assert image.shape == label.shape == (source.shape[1], source.shape[0], 1)
        np.testing.assert_array_equal(image.get_fdata()[:, :, 0].T, source)
        assert image.header.get_zooms()[:2] == pytest.approx((0.8, 0.8))  # simulate's spacing
        lab = np.asarray(label.dataobj)[:, :, 0].T
        assert set(np.unique(lab)) <= {0, 1}
        small = np.asarray(Image.fromarray(lab).resize((32, 32), Image.NEAREST))
        assert (small == g["pseudo"][k, 0]).mean() > 0.97  # nearest, back and forth
    check()
    verify = pytest.importorskip(
        "nnunetv2.experiment_planning.verify_dataset_integrity",
        reason="nnunetv2 not installed: nnU-Net's own dataset check not run")
    verify.verify_dataset_integrity(str(folder), num_processes=1)


def test_dicom_modality_names_the_channel(tmp_path, run_cli):
    pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")
    sim, cache = _dataset(tmp_path, run_cli, "dicom")
    got = run_cli("gazeprep", "export", "--to", "nnunet", "--cache", cache, "--out",
                  tmp_path / "raw", "--images", sim / "images")
    assert got.returncode == 0, got.stderr
    desc = json.loads((tmp_path / "raw" / "Dataset501_Gaze" / "dataset.json").read_text())
    assert desc["channel_names"] == {"0": "MR"}


def test_photographs_export_at_their_own_size(render_dataset, tmp_path, run_cli):
    got = run_cli("gazeprep", "render", "--levels", "2", "--size", "16", "--gaze",
                  render_dataset / "gaze", "--images", render_dataset / "images", "--out",
                  tmp_path / "c.zarr", "--jobs", "1")
    assert got.returncode == 0, got.stderr
    got = run_cli("gazeprep", "export", "--to", "nnunet", "--cache", tmp_path / "c.zarr",
                  "--out", tmp_path / "raw", "--images", render_dataset / "images")
    assert got.returncode == 0, got.stderr
    folder = tmp_path / "raw" / "Dataset501_Gaze"
    with Image.open(folder / "imagesTr" / "im0_0000.png") as im:
        assert im.size == (40, 30) and im.mode == "RGB"  # the source's own 40 x 30
    with Image.open(folder / "labelsTr" / "im0.png") as im:
        assert im.size == (40, 30) and set(np.unique(np.asarray(im))) <= {0, 1}
