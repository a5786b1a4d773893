"""Pixel spacing in mm from DICOM, NIfTI and NRRD headers; recorded per sample by render and used
by ``gradseg eval`` for HD95 in mm."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazeprep.contract.images import ImageOptions, index_folder
from gazeprep.contract.spacing import pixel_spacing


def _spacing_of(folder, options=None):
    return {k: pixel_spacing(r) for k, r in index_folder(folder, options).items()}


def test_dicom_files_pydicom_ships(medical, tmp_path):
    ct = medical.pydicom_file("CT_small.dcm")
    mr = medical.pydicom_file("MR_small.dcm")
    for f in (ct, mr):
        (tmp_path / f.name).symlink_to(f)
    got = _spacing_of(tmp_path)
    assert got == {"CT_small": pytest.approx((0.661468, 0.661468)),
                   "MR_small": pytest.approx((0.3125, 0.3125))}


def test_dicom_anisotropic_missing_and_functional_groups(medical, tmp_path):
    pydicom = pytest.importorskip("pydicom")
    frame = np.zeros((6, 8), np.uint8)
    medical.write_dicom(tmp_path / "plain.dcm", frame)  # no PixelSpacing: unknown
    p = medical.write_dicom(tmp_path / "aniso.dcm", frame)
    ds = pydicom.dcmread(p)
    ds.PixelSpacing = [0.5, 0.25]  # between rows, between columns
    ds.save_as(p)
    p = medical.write_dicom(tmp_path / "multi.dcm", np.zeros((2, 6, 8), np.uint8))
    ds = pydicom.dcmread(p)
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    def groups(spacing):
        item, measures = Dataset(), Dataset()
        measures.PixelSpacing = spacing
        item.PixelMeasuresSequence = Sequence([measures])
        return item

    ds.SharedFunctionalGroupsSequence = Sequence([groups([0.9, 0.9])])
    ds.PerFrameFunctionalGroupsSequence = Sequence([groups([0.7, 0.6]), Dataset()])
    ds.save_as(p)
    got = _spacing_of(tmp_path)
    assert got["plain"] is None
    assert got["aniso"] == pytest.approx((0.5, 0.25))
    assert got["multi_0"] == pytest.approx((0.7, 0.6))  # the frame's own
    assert got["multi_1"] == pytest.approx((0.9, 0.9))  # the shared one


def _nifti(path, zooms, unit):
    nib = pytest.importorskip("nibabel")
    img = nib.Nifti1Image(np.zeros((4, 5, 3), np.uint8), np.diag([*zooms, 1.0]))
    img.header.set_xyzt_units(xyz=unit)
    nib.save(img, str(path))


def test_nifti_axes_follow_the_slice_rule(tmp_path):
    d = tmp_path / "v"
    d.mkdir()
    _nifti(d / "v.nii.gz", (0.8, 0.5, 2.0), "mm")
    # slice along axis 2 is data[:, :, k].T: rows follow axis 1, columns axis 0
    assert _spacing_of(d)["v_0"] == pytest.approx((0.5, 0.8))
    assert _spacing_of(d, ImageOptions(flip=True))["v_0"] == pytest.approx((0.8, 0.5))
    assert _spacing_of(d, ImageOptions(slice_axis=0))["v_0"] == pytest.approx((2.0, 0.5))
    _nifti(d / "v.nii.gz", (0.8, 0.5, 2.0), "micron")
    assert _spacing_of(d)["v_0"] == pytest.approx((0.0005, 0.0008))
    _nifti(d / "v.nii.gz", (0.8, 0.5, 2.0), "unknown")
    assert _spacing_of(d)["v_0"] is None  # no unit: no claim of millimetres


def test_nrrd_space_directions_and_spacings(tmp_path):
    nrrd = pytest.importorskip("nrrd")
    d = tmp_path / "n"
    d.mkdir()
    data = np.zeros((4, 5, 3), np.uint8)
    nrrd.write(str(d / "a.nrrd"), data, {"space": "left-posterior-superior",
                                         "space directions": np.diag([0.8, 0.5, 2.0])})
    nrrd.write(str(d / "b.nrrd"), data, {"spacings": [0.8, 0.5, 2.0]})  # no space, no unit
    got = _spacing_of(d)
    assert got["a_0"] == pytest.approx((0.5, 0.8)) and got["b_0"] is None


def test_png_has_no_spacing(render_dataset):
    assert set(_spacing_of(render_dataset / "images").values()) == {None}


def test_render_records_spacing_and_eval_reports_hd95_in_mm(tmp_path, medical, capsys,
                                                          untrained_checkpoint):
    """A NIfTI volume of 0.5 x 0.8 mm pixels: the cache records it, eval on the cache gives
    hd95_mm = HD95 with pitch (H/S * 0.5, W/S * 0.8), and eval on the files the same pitch."""
    import polars as pl

    from gazeprep.contract.cache import validate
    from gazeprep.contract.metrics import hd95, original_spacing
    from gazeprep.render.params import RenderParams
    from gazeprep.render.plan import plan_render
    from gazeprep.render.writer import update_cache
    from gradseg.cli import main

    nib = pytest.importorskip("nibabel")
    h, w, s = 20, 28, 16
    yy, xx = np.mgrid[:h, :w]
    masks = [((yy - 9) ** 2 + (xx - 12 - 3 * k) ** 2 <= 30).astype(np.uint8) for k in range(2)]
    images = [(m * 150 + 40).astype(np.uint8) for m in masks]
    for name, frames in (("images", images), ("masks", masks)):
        (tmp_path / name).mkdir()
        img = nib.Nifti1Image(medical.slices_to_volume(frames), np.diag([0.8, 0.5, 3.0, 1]))
        img.header.set_xyzt_units(xyz="mm")
        nib.save(img, str(tmp_path / name / "v.nii.gz"))
    gaze = tmp_path / "gaze"
    gaze.mkdir()
    pl.DataFrame({"image": ["v_0", "v_1"], "session": ["s", "s"], "x": [[0.4, 0.5]] * 2,
                  "y": [[0.4, 0.5]] * 2, "duration_ms": [[300.0, 300.0]] * 2}).write_parquet(
        gaze / "tracks.parquet")
    out = tmp_path / "c.zarr"
    update_cache(plan_render(gaze, tmp_path / "images", tmp_path / "masks"),
                 RenderParams(size=s), out)
    layout = validate(out)
    assert layout.spacing == [pytest.approx((0.5, 0.8))] * 2
    assert layout.orig_size == [(h, w)] * 2
    # eval on the cache: distances in original pixels, and in mm with the recorded spacing
    from gradseg.evaluate import _cache_row

    ref = np.zeros((s, s), bool)
    ref[4:9, 5:11] = True
    pred = np.roll(ref, 2, axis=1)
    row = _cache_row(layout, 1, pred, ref)
    assert (row["image"], row["height"], row["width"]) == ("v_1", h, w)
    assert row["hd95"] == pytest.approx(hd95(pred, ref, (h / s, w / s)))
    assert row["hd95_mm"] == pytest.approx(
        hd95(pred, ref, original_spacing((s, s), (h, w), (0.5, 0.8))))
    # eval on the files: the same model's masks, HD95 in mm with the files' spacing
    ckpt = untrained_checkpoint(tmp_path, s)
    for args in (["predict", "--out", str(tmp_path / "pred")],
                 ["eval", "--masks", str(tmp_path / "masks"), "--json", "--out",
                  str(tmp_path / "e.parquet")]):
        with pytest.raises(SystemExit) as e:
            main([args[0], "--checkpoint", str(ckpt), "--images", str(tmp_path / "images"),
                  *args[1:]])
        assert e.value.code in (0, None)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    df = pl.read_parquet(tmp_path / "e.parquet")
    assert df["image"].to_list() == ["v_0", "v_1"] and summary["n_hd95_mm"] == 2
    import nibabel as nib

    # predict writes one NIfTI mask per volume, in the volume's voxel grid: slice k is [:, :, k].T
    vol = nib.load(tmp_path / "pred" / "v.nii.gz")
    assert vol.header.get_zooms() == pytest.approx((0.8, 0.5, 3.0))
    assert df["image"].to_list() == ["v_0", "v_1"]
    for k in range(2):
        pred = np.asarray(vol.dataobj)[:, :, k].T > 0
        assert df["hd95_mm"][k] == pytest.approx(hd95(pred, masks[k] > 0, (0.5, 0.8)))
        assert df["hd95"][k] == pytest.approx(hd95(pred, masks[k] > 0))

