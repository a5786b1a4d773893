"""`gazeprep simulate --format dicom|nifti`: MR-like 16-bit volumes with a lesion on every
slice, masks in the same format, ids ``<stem>_<k>`` that the recording names and that gazeprep
and gradseg index the files by; reproducible; reruns replace only the simulation's own files.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from gazeprep.contract.images import check_pair, index_folder, read_image, read_mask
from gazeprep.read.result import image_id
from gazeprep.simulate.config import SimConfig
from gazeprep.simulate.dataset import output_names, simulate_dataset, simulated_id
from gazeprep.simulate.mr import MAX_VALUE, make_volume

pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")
pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")

SMALL = {"n_images": 7, "slices": 3, "sessions": 1, "size": 64, "seed": 3}


@pytest.fixture(scope="module", params=["nifti", "dicom"])
def sim(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    cfg = SimConfig(**SMALL, image_format=request.param)
    simulate_dataset(out, cfg)
    return out, cfg


def test_files_are_volumes_with_masks_in_the_same_format(sim):
    out, cfg = sim
    suffix = ".nii.gz" if cfg.image_format == "nifti" else ".dcm"
    want = ["sim3_mr000", "sim3_mr001", "sim3_mr002"]  # 7 slices: 3 + 3 + 1
    assert sorted(p.name for p in (out / "images").iterdir()) == [w + suffix for w in want]
    assert sorted(p.name for p in (out / "masks").iterdir()) == [w + suffix for w in want]
    assert sorted(output_names(cfg)) == sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def test_ids_are_what_the_recording_names(sim):
    out, cfg = sim
    images, masks = index_folder(out / "images"), index_folder(out / "masks")
    ids = [simulated_id(cfg, i) for i in range(cfg.n_images)]
    assert sorted(images) == sorted(masks) == sorted(ids)
    assert ids[:4] == ["sim3_mr000_0", "sim3_mr000_1", "sim3_mr000_2", "sim3_mr001_0"]
    # the last volume has one slice: a one-frame DICOM is a 2-D image, its id the stem
    assert ids[6] == ("sim3_mr002" if cfg.image_format == "dicom" else "sim3_mr002_0")
    asc = (out / "raw" / "obs01.asc").read_text()
    named = {image_id(m) for m in re.findall(r"!V IMGLOAD CENTER (\S+)", asc)}
    assert named == set(ids)
    truth = pl.read_parquet(out / "truth.parquet")
    assert set(truth["image"]) == set(ids)


def test_slices_are_grey_16_bit_with_a_lesion_each(sim):
    out, cfg = sim
    images, masks = index_folder(out / "images"), index_folder(out / "masks")
    for key, ref in images.items():
        check_pair(ref, masks[key])
        rgb = read_image(ref)
        assert rgb.shape == (64, 64, 3)
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
        mask = read_mask(masks[key])
        assert 8 <= mask.sum() < 0.3 * mask.size
        # the lesion is brighter than the rest of the body (hyperintense, as on T2)
        assert rgb[..., 0][mask > 0].mean() > rgb[..., 0][mask == 0].mean() + 30
    if cfg.image_format == "dicom":
        import pydicom

        ds = pydicom.dcmread(out / "images" / "sim3_mr000.dcm")
        assert (ds.NumberOfFrames, ds.BitsAllocated, ds.BitsStored) == (3, 16, 12)
        assert ds.pixel_array.dtype == np.uint16 and ds.Modality == "MR"
        m = pydicom.dcmread(out / "masks" / "sim3_mr000.dcm")
        assert m.NumberOfFrames == 3 and set(np.unique(m.pixel_array)) == {0, 1}
    else:
        import nibabel as nib

        img = nib.load(out / "images" / "sim3_mr000.nii.gz")
        assert img.shape == (64, 64, 3) and img.get_data_dtype() == np.int16
        assert img.header.get_zooms() == (0.8, 0.8, 3.0)


def test_same_seed_same_bytes(sim, tmp_path, tree_digest):
    out, cfg = sim
    again = tmp_path / "again"
    simulate_dataset(again, cfg)
    assert tree_digest(again) == tree_digest(out)


def test_volume_values_and_the_lesion_profile():
    vol, mask, blobs = make_volume(np.random.default_rng(0), 96, 7)
    assert vol.dtype == np.uint16 and vol.max() <= MAX_VALUE and vol.min() >= 0
    areas = mask.sum(axis=(1, 2))
    assert (areas > 0).all() and areas.argmax() in (2, 3, 4)  # largest mid-volume
    assert areas.min() >= 0.3 * areas.max()
    assert all(len(b) == 1 and (b[0] == m).all() for b, m in zip(blobs, mask, strict=True))
    one, _, _ = make_volume(np.random.default_rng(0), 32, 1)  # one slice, a small image
    assert one.shape == (1, 32, 32)


def test_cli_format_and_a_rerun_in_another_format(tmp_path, run_cli, error_line, tree_digest):
    out = tmp_path / "sim"
    res = run_cli("gazeprep", "simulate", out, "--format", "dicom", "--images", "4",
                  "--slices", "2", "--size", "48")
    assert res.returncode == 0, res.stderr
    (out / "notes.txt").write_text("mine")
    res = run_cli("gazeprep", "simulate", out, "--format", "nifti", "--images", "2",
                  "--slices", "2", "--size", "48")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (out / "images").iterdir()) == ["sim0_mr000.nii.gz"]
    assert (out / "notes.txt").read_text() == "mine"
    before = tree_digest(out)
    res = run_cli("gazeprep", "simulate", out, "--format", "jpeg")
    assert res.returncode == 2 and "--format" in res.stderr
    assert tree_digest(out) == before


def test_ingest_and_render_the_volumes(sim, tmp_path, run_cli):
    out, cfg = sim
    gaze, cache = tmp_path / "gaze", tmp_path / "maps.zarr"
    res = run_cli("gazeprep", "ingest", out / "raw", "--images", out / "images", "--out", gaze)
    assert res.returncode == 0, res.stderr
    tracks = pl.read_parquet(gaze / "tracks.parquet")
    assert set(tracks["image"]) == {simulated_id(cfg, i) for i in range(cfg.n_images)}
    assert set(tracks["width"]) == {64} and set(tracks["height"]) == {64}
    res = run_cli("gazeprep", "render", "--gaze", gaze, "--images", out / "images", "--masks",
                  out / "masks", "--size", "32", "--out", cache)
    assert res.returncode == 0, res.stderr
