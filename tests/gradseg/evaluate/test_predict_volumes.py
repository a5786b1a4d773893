"""`gradseg predict` on radiology writes one NIfTI per scan in the scan's own geometry.

Real files: the NIfTI volumes nibabel ships (an LAS anatomical scan, an RAS one, one without
units), its two-slice Siemens DICOM series, and a CT series built from pydicom's CT_small.dcm
(its slices moved along their normal, the files named out of order).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

nib = pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")
pydicom = pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")
pytest.importorskip("highdicom", reason="highdicom not installed (extra 'medical')")

from gazeprep.contract.images import index_folder  # noqa: E402
from gazeprep.contract.source import read_values  # noqa: E402
from gradseg.predict_volumes import plan_outputs, write_scan  # noqa: E402

NIFTI = ("anatomical.nii", "reoriented_anat_moved.nii", "standard.nii.gz")


def _ct_series(folder: Path, src: Path, z: list[float]) -> dict[str, float]:
    """CT_small.dcm as a series of slices at offsets ``z`` mm along its normal, in files whose
    names do not follow the slice order; returns file stem -> offset."""
    ds = pydicom.dcmread(src)
    row, col = np.asarray(ds.ImageOrientationPatient[:3]), np.asarray(
        ds.ImageOrientationPatient[3:])
    normal, origin = np.cross(row, col), np.asarray(ds.ImagePositionPatient, float)
    placed = {}
    for k, dz in enumerate(z):
        ds.ImagePositionPatient = [float(v) for v in origin + dz * normal]
        ds.InstanceNumber = k + 1
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        name = f"ct{(7 * k) % len(z)}"
        ds.save_as(folder / f"{name}.dcm")
        placed[name] = dz
    return placed


def _dicom_world_ras(path: Path, r: int, c: int) -> np.ndarray:
    """The RAS position of pixel (row r, column c) of a DICOM file, from its header (PS3.3
    C.7.6.2.1.1), as the reference for where the mask must land."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    iop = np.asarray(ds.ImageOrientationPatient, float)
    dr, dc = (float(v) for v in ds.PixelSpacing)
    lps = np.asarray(ds.ImagePositionPatient, float) + c * dc * iop[:3] + r * dr * iop[3:]
    return lps * [-1, -1, 1]


def _bright(refs, scan) -> dict[str, np.ndarray]:
    """Each image's brightest tenth as its "prediction" (where it lands is checkable)."""
    out = {}
    for key in scan.slots:
        v = read_values(refs[key]).astype(np.float32)
        out[key] = (v > np.percentile(v, 90)).astype(np.float32)
    return out


@pytest.fixture()
def scans_folder(tmp_path, medical) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in NIFTI:
        shutil.copy(medical.nibabel_file(name), folder / name)
    for name in ("0.dcm", "1.dcm"):
        shutil.copy(medical.nibabel_file(name), folder / f"siemens{name}")
    _ct_series(folder, medical.pydicom_file("CT_small.dcm"), [0.0, 2.5, 5.0, 7.5, 10.0])
    return folder


def test_volumes_come_back_with_the_source_affine_and_voxels(scans_folder, tmp_path):
    refs = index_folder(scans_folder)
    plan = plan_outputs(refs, refs)
    assert plan.notes == []
    by_name = {s.name: s for s in plan.scans.values()}
    assert sorted(by_name) == ["anatomical", "reoriented_anat_moved", "series-1", "series-12",
                               "standard"]
    out = tmp_path / "out"
    out.mkdir()
    for scan in plan.scans.values():
        assert write_scan(out, scan, _bright(refs, scan), 0.5, True, lambda p, w: w(p)) is None
        for stem in NIFTI:
            name = stem.split(".")[0]
            if scan.name == name:
                src, got = nib.load(scans_folder / stem), nib.load(out / f"{name}.nii.gz")
                assert got.shape == src.shape[:3]
                np.testing.assert_array_equal(got.affine, src.affine)
                data = np.asarray(src.dataobj).reshape(src.shape[:3]).astype(np.float32)
                for k in range(data.shape[2]):  # slice k of the file is the image <name>_k
                    v = data[:, :, k]
                    np.testing.assert_array_equal(np.asarray(got.dataobj)[:, :, k],
                                                  v > np.percentile(v.T, 90))
                prob = nib.load(out / f"{name}_probabilities.nii.gz")
                assert prob.get_data_dtype() == np.float32
                np.testing.assert_array_equal(prob.affine, src.affine)


def test_a_dicom_series_mask_lands_on_its_files_positions(scans_folder, tmp_path):
    refs = index_folder(scans_folder)
    plan = plan_outputs(refs, refs)
    scan = next(s for s in plan.scans.values() if s.name == "series-1")  # the CT series
    assert scan.depth == 5 and scan.frame_shape == (128, 128)
    out = tmp_path / "out"
    out.mkdir()
    # files ct0, ct2, ct4, ct1, ct3 lie 0, 2.5, 5, 7.5, 10 mm along the normal: stacked in
    # that order (highdicom's, from the far end, so that (slice, row, column) is right-handed)
    assert scan.slots == {"ct3": 0, "ct1": 1, "ct4": 2, "ct2": 3, "ct0": 4}
    blobs = {"ct2": (10, 90), "ct4": (100, 7)}
    probs = {k: np.zeros((128, 128), np.float32) for k in scan.slots}
    for key, (r, c) in blobs.items():
        probs[key][r, c] = 1.0
    write_scan(out, scan, probs, 0.5, False, lambda p, w: w(p))
    got = nib.load(out / "series-1.nii.gz")
    data = np.asarray(got.dataobj)
    assert data.shape == (128, 128, 5) and data.sum() == len(blobs)
    zooms = got.header.get_zooms()
    assert zooms == pytest.approx((0.661468, 0.661468, 2.5), abs=1e-5)
    for key, (r, c) in blobs.items():
        voxel = np.argwhere(data == 1)
        world = nib.affines.apply_affine(got.affine, voxel)
        want = _dicom_world_ras(scans_folder / f"{key}.dcm", r, c)
        assert np.min(np.linalg.norm(world - want, axis=1)) < 1e-3, key


def test_predict_cli_writes_a_volume_per_scan_and_records_unpredicted_slices(
        scans_folder, tmp_path, gradseg_cli, untouched, untrained_checkpoint):
    check = untouched(scans_folder)
    ckpt = untrained_checkpoint(tmp_path, 32)
    ids = tmp_path / "ids.txt"
    ids.write_text("anatomical_3\nanatomical_4\nct2\nct0\nsiemens0\nsiemens1\n")
    out = tmp_path / "pred"
    code, stdout, err = gradseg_cli("predict", "--checkpoint", ckpt, "--images", scans_folder,
                                    "--out", out, "--ids", ids, "--save-probabilities",
                                    "--threshold", "0.4", "--device", "cpu")
    assert code == 0, err
    assert "wrote 3 volume masks, 0 image masks, 6 overlays" in stdout
    assert "anatomical.nii.gz: 2 of 25 slices predicted; the other 23 are 0" in err
    assert "series-1.nii.gz: 2 of 5 slices predicted" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}{e}" for n in ("anatomical", "series-1", "series-12")
         for e in (".nii.gz", "_probabilities.nii.gz")]
        + ["anatomical_slices.json", "series-1_slices.json"]
        + [f"{k}_overlay.png" for k in ids.read_text().split()])
    src = nib.load(scans_folder / "anatomical.nii")
    mask = nib.load(out / "anatomical.nii.gz")
    prob = nib.load(out / "anatomical_probabilities.nii.gz")
    np.testing.assert_array_equal(mask.affine, src.affine)
    m, p = np.asarray(mask.dataobj), prob.get_fdata()
    np.testing.assert_array_equal(m > 0, p >= 0.4)
    assert p[:, :, 3].max() > 0 and p[:, :, 4].max() > 0
    assert not p[:, :, [k for k in range(25) if k not in (3, 4)]].any()
    record = json.loads((out / "anatomical_slices.json").read_text())
    assert record["predicted"] == ["anatomical_3", "anatomical_4"]
    assert len(record["not_predicted"]) == 23 and record["value_of_not_predicted"] == 0
    check()
    # the Python API gives the volumes the command wrote, in memory
    import gradseg

    for probabilities, suffix in ((False, ".nii.gz"), (True, "_probabilities.nii.gz")):
        got = gradseg.predict_scans(ckpt, scans_folder, ids=ids.read_text().split(),
                                    threshold=0.4, probabilities=probabilities)
        assert sorted(got) == ["anatomical", "series-1", "series-12"]
        for name, image in got.items():
            written = nib.load(out / f"{name}{suffix}")
            # NIfTI stores the affine as float32
            np.testing.assert_array_equal(image.affine.astype(np.float32), written.affine)
            np.testing.assert_array_equal(np.asarray(image.dataobj),
                                          np.asarray(written.dataobj))
    check()
    # next time its files are refused by their real names
    code, _o, err = gradseg_cli("predict", "--checkpoint", ckpt, "--images", scans_folder,
                                "--out", out, "--ids", ids, "--device", "cpu")
    assert code == 1 and "anatomical.nii.gz" in err


def test_dicom_without_a_regular_geometry_stays_2d(tmp_path, medical):
    folder = tmp_path / "images"
    folder.mkdir()
    medical.write_dicom(folder / "a.dcm", np.zeros((8, 10), np.uint8))
    refs = index_folder(folder)
    plan = plan_outputs(refs, refs)
    assert plan.scans == {} and list(plan.units) == ["a"]
    assert "no ImagePositionPatient" in plan.notes[0]
    # slices 0, 2.5 and 7.5 mm apart are no regular stack: each file stays an image, said so
    uneven = tmp_path / "uneven"
    uneven.mkdir()
    _ct_series(uneven, medical.pydicom_file("CT_small.dcm"), [0.0, 2.5, 7.5])
    refs = index_folder(uneven)
    plan = plan_outputs(refs, refs)
    assert plan.scans == {} and sorted(plan.units) == ["ct0", "ct1", "ct2"]
    assert "not a regular stack" in plan.notes[0]
    # asked for PNGs only, the folder's DICOM series are not looked at (nor noted)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(uneven / "photo.png")
    refs = index_folder(uneven)
    plan = plan_outputs(refs, {"photo": refs["photo"]})
    assert plan.notes == [] and list(plan.units) == ["photo"]
    # a lone file with its plane is a scan of one slice, named by its id
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(medical.pydicom_file("MR_small.dcm"), lone / "mr.dcm")
    refs = index_folder(lone)
    (scan,) = plan_outputs(refs, refs).scans.values()
    assert (scan.name, scan.depth, scan.frame_shape) == ("mr", 1, (64, 64))
    # its slice spacing is the file's SliceThickness (0.8 mm), not a made-up 1 mm
    zooms = scan.to_nifti(np.zeros((1, 64, 64), np.uint8)).header.get_zooms()
    assert np.allclose(zooms, (0.3125, 0.3125, 0.8))


def test_two_scans_that_would_write_one_name_are_refused(scans_folder, tmp_path):
    from gradseg.errors import GradsegError
    from gradseg.predict import check_out

    shutil.copy(scans_folder / "standard.nii.gz", scans_folder / "series-1.nii.gz")
    refs = index_folder(scans_folder)
    plan = plan_outputs(refs, refs)
    assert len(plan.scans) == 6  # the file and the CT series stay two scans
    with pytest.raises(GradsegError, match="would both write series-1.nii.gz"):
        check_out(scans_folder, tmp_path / "out", list(plan.units), False,
                  lambda u: plan.names(u, "dicom", False))


def test_shared_radiology_volumes_keep_their_affine(shared_data, tmp_path):
    root = shared_data()
    found = sorted(p for pat in ("*.nii.gz", "*.nii") for p in root.rglob(pat))
    if not found:
        pytest.skip(f"no NIfTI volume under {root} (its README: the NCI-ISBI slices are not "
                    "available here)")
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(found[0], folder / found[0].name)
    refs = index_folder(folder)
    scan = next(iter(plan_outputs(refs, refs).scans.values()))
    probs = {k: np.zeros(scan.frame_shape, np.float32) for k in scan.slots}
    write_scan(tmp_path, scan, probs, 0.5, False, lambda p, w: w(p))
    np.testing.assert_array_equal(nib.load(tmp_path / f"{scan.name}.nii.gz").affine,
                                  nib.load(found[0]).affine)



def test_an_nrrd_volume_keeps_its_place_in_the_patient(tmp_path):
    """An oblique LPS NRRD: every voxel of the NIfTI written lies where SimpleITK (ITK's own
    NRRD and NIfTI readers, the library 3D Slicer uses) places the same voxel of the NRRD."""
    nrrd = pytest.importorskip("nrrd", reason="pynrrd not installed (extra 'medical')")
    sitk = pytest.importorskip("SimpleITK", reason="SimpleITK not installed (medpy needs it)")
    folder = tmp_path / "images"
    folder.mkdir()
    theta = np.deg2rad(20)
    dirs = np.array([[0.7 * np.cos(theta), 0.7 * np.sin(theta), 0],
                     [-0.9 * np.sin(theta), 0.9 * np.cos(theta), 0], [0, 0, 3.0]])
    data = np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)
    nrrd.write(str(folder / "obl.nrrd"), data, {"space": "left-posterior-superior",
                                                 "space directions": dirs,
                                                 "space origin": [10.0, -20.0, 5.0]})
    refs = index_folder(folder)
    scan = next(iter(plan_outputs(refs, refs).scans.values()))
    probs = {k: (read_values(refs[k]) % 7 == 0).astype(np.float32) for k in scan.slots}
    write_scan(tmp_path, scan, probs, 0.5, False, lambda p, w: w(p))
    got = sitk.ReadImage(str(tmp_path / "obl.nii.gz"))
    src = sitk.ReadImage(str(folder / "obl.nrrd"))
    assert got.GetSize() == src.GetSize() == (6, 5, 4)
    np.testing.assert_allclose(got.GetOrigin(), src.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(got.GetDirection(), src.GetDirection(), atol=1e-4)
    np.testing.assert_allclose(got.GetSpacing(), src.GetSpacing(), atol=1e-4)
    # and the voxels are the image's own, in place: mask == (value % 7 == 0) voxel by voxel
    np.testing.assert_array_equal(sitk.GetArrayFromImage(got) > 0,
                                  sitk.GetArrayFromImage(src) % 7 == 0)


def test_an_enhanced_multiframe_file_gives_the_volume_of_its_series(tmp_path, medical):
    """highdicom's legacy conversion of the CT series into one enhanced CT file (frames with
    per-frame positions): its mask volume equals the series', affine and voxels."""
    hd = pytest.importorskip("highdicom")
    series, single = tmp_path / "series", tmp_path / "enhanced"
    series.mkdir()
    single.mkdir()
    _ct_series(series, medical.pydicom_file("CT_small.dcm"), [0.0, 2.5, 5.0, 7.5])
    enhanced = hd.legacy.LegacyConvertedEnhancedCTImage(
        legacy_datasets=[pydicom.dcmread(p) for p in sorted(series.glob("*.dcm"))],
        series_instance_uid=hd.UID(), series_number=2, sop_instance_uid=hd.UID(),
        instance_number=1)
    enhanced.save_as(single / "enh.dcm")
    got = {}
    for folder in (series, single):
        refs = index_folder(folder)
        scan = next(iter(plan_outputs(refs, refs).scans.values()))
        write_scan(tmp_path, scan, _bright(refs, scan), 0.5, False, lambda p, w: w(p))
        got[folder] = nib.load(tmp_path / f"{scan.name}.nii.gz")
    a, b = got[series], got[single]
    assert a.shape == b.shape == (128, 128, 4)
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))
    assert np.asarray(a.dataobj).any()


def test_dicom_seg_frames_land_on_their_source_instances(tmp_path, medical):
    """A DICOM Segmentation of three of five slices of a CT series, read back by highdicom:
    each predicted file's frame is that file's mask; the two others are not referenced."""
    hd = pytest.importorskip("highdicom")
    from gradseg.dicom_seg import SEGMENT_LABEL, write_dicom_seg

    folder = tmp_path / "ct"
    folder.mkdir()
    _ct_series(folder, medical.pydicom_file("CT_small.dcm"), [0.0, 2.5, 5.0, 7.5, 10.0])
    refs = index_folder(folder)
    masks = {k: np.zeros((128, 128), bool) for k in ("ct1", "ct3", "ct4")}
    masks["ct1"][10:20, 30:44] = True
    masks["ct4"][60:64, 2:9] = True  # ct3 stays empty
    write_dicom_seg(tmp_path / "s.seg.dcm", masks, refs, lambda p, w: w(p))
    seg = hd.seg.segread(tmp_path / "s.seg.dcm")
    assert seg.get_segment_description(1).SegmentLabel == SEGMENT_LABEL
    uid = {k: pydicom.dcmread(folder / f"{k}.dcm").SOPInstanceUID for k in refs}
    referenced = {u for _s, _r, u in seg.get_source_image_uids()}
    assert referenced == {uid[k] for k in masks}
    for key in ("ct1", "ct4"):
        got = seg.get_pixels_by_source_instance([uid[key]], segment_numbers=[1])
        np.testing.assert_array_equal(got[0, :, :, 0], masks[key])
    # the frame of reference and the series are the source's
    src = pydicom.dcmread(folder / "ct1.dcm")
    assert seg.FrameOfReferenceUID == src.FrameOfReferenceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == src.SeriesInstanceUID


def test_predict_cli_writes_dicom_seg_for_dicom_scans_only(scans_folder, tmp_path,
                                                           gradseg_cli, untrained_checkpoint):
    ckpt = untrained_checkpoint(tmp_path, 32)
    ids = tmp_path / "ids.txt"
    ids.write_text("ct0\nct1\nanatomical_0\n")
    out = tmp_path / "pred"
    code, _o, err = gradseg_cli("predict", "--checkpoint", ckpt, "--images", scans_folder,
                                "--out", out, "--ids", ids, "--dicom-seg", "--threshold", "0.05",
                                "--device", "cpu")
    assert code == 0, err
    assert (out / "series-1.seg.dcm").is_file() and not (out / "anatomical.seg.dcm").exists()
    seg = pydicom.dcmread(out / "series-1.seg.dcm")
    assert seg.Modality == "SEG"
    # the NIfTI mask and the Segmentation agree slice by slice
    nifti = np.asarray(nib.load(out / "series-1.nii.gz").dataobj)
    refs = index_folder(scans_folder)
    scan = next(s for s in plan_outputs(refs, refs).scans.values() if s.name == "series-1")
    hd = pytest.importorskip("highdicom")
    back = hd.seg.segread(out / "series-1.seg.dcm")
    compared = 0
    for key in ("ct0", "ct1"):
        sop = pydicom.dcmread(scans_folder / f"{key}.dcm").SOPInstanceUID
        want = nifti[:, :, scan.slots[key]].T > 0
        if want.any():  # (empty frames are left out of a Segmentation)
            got = back.get_pixels_by_source_instance([sop], segment_numbers=[1])[0, :, :, 0]
            np.testing.assert_array_equal(got > 0, want)
            compared += 1
    assert compared  # the untrained model marks something on these slices


def test_predict_dicom_seg_prints_no_library_warnings(tmp_path, medical, run_cli,
                                                     untrained_checkpoint):
    """An anonymised CT series (PatientName "ANON", which highdicom takes for a mistake) whose
    masks are all empty (highdicom logs that it keeps every frame): the Segmentation is
    written and stderr holds only the progress lines, no pydicom or highdicom warning."""
    from safety_helpers import stderr_lines

    folder = tmp_path / "images"
    folder.mkdir()
    _ct_series(folder, medical.pydicom_file("CT_small.dcm"), [0.0, 2.5, 5.0])
    for path in folder.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.PatientName = "ANON"
        ds.save_as(path)
    out = tmp_path / "pred"
    r = run_cli("gradseg", "predict", "--checkpoint", untrained_checkpoint(tmp_path, 32),
                "--images", folder, "--out", out, "--dicom-seg", "--threshold", "0.999",
                "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert stderr_lines(r.stderr) == [], r.stderr
    assert not np.asarray(nib.load(out / "series-1.nii.gz").dataobj).any()
    seg = pydicom.dcmread(out / "series-1.seg.dcm")
    assert seg.NumberOfFrames == 3 and seg.PatientName == "ANON"


@pytest.mark.parametrize("case", ["PatientID of 70 characters", "one SOPInstanceUID twice"])
def test_what_pydicom_or_highdicom_says_comes_back_as_one_note(case, tmp_path, medical,
                                                               monkeypatch, recwarn):
    """write_dicom_seg called on sources that predict would not give it (plan_outputs refuses
    a SOPInstanceUID twice), or with pydicom validating what it reads (its default): their
    warning (pydicom's) or log line (highdicom's) is one note of ours, nothing printed."""
    from pydicom import config

    from gradseg.dicom_seg import write_dicom_seg

    folder = tmp_path / "ct"
    folder.mkdir()
    _ct_series(folder, medical.pydicom_file("CT_small.dcm"), [0.0, 2.5])
    ds = pydicom.dcmread(folder / "ct0.dcm")  # the source highdicom copies the patient from
    if case.startswith("PatientID"):
        monkeypatch.setattr(config.settings, "writing_validation_mode", config.IGNORE)
        ds.PatientID, said = "x" * 70, "exceeds the maximum length of 64 allowed for VR LO"
    else:
        ds.SOPInstanceUID, said = pydicom.dcmread(folder / "ct1.dcm").SOPInstanceUID, "Duplicate"
    ds.save_as(folder / "ct0.dcm")
    refs = index_folder(folder)
    monkeypatch.setattr(config.settings, "reading_validation_mode", config.WARN)
    masks = {k: np.ones((128, 128), bool) for k in ("ct0", "ct1")}
    recwarn.clear()
    note = write_dicom_seg(tmp_path / "s.seg.dcm", masks, refs, lambda p, w: w(p))
    assert note and said in note and note.startswith("s.seg.dcm") and "\n" not in note, note
    assert not recwarn.list, [str(w.message) for w in recwarn]
    assert (tmp_path / "s.seg.dcm").is_file()


@pytest.mark.parametrize("axis,flip", [(0, False), (1, True), (2, True)])
def test_other_slice_axes_put_each_slice_back_in_place(tmp_path, medical, axis, flip):
    from gazeprep.contract.images import ImageOptions

    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(medical.nibabel_file("anatomical.nii"), folder / "anatomical.nii")
    refs = index_folder(folder, ImageOptions(slice_axis=axis, flip=flip))
    (scan,) = plan_outputs(refs, refs).scans.values()
    write_scan(tmp_path, scan, _bright(refs, scan), 0.5, False, lambda p, w: w(p))
    src, got = nib.load(folder / "anatomical.nii"), nib.load(tmp_path / "anatomical.nii.gz")
    np.testing.assert_array_equal(got.affine, src.affine)
    data, mask = src.get_fdata(dtype=np.float32), np.asarray(got.dataobj)
    for k in range(data.shape[axis]):
        v = np.take(data, k, axis=axis)
        np.testing.assert_array_equal(np.take(mask, k, axis=axis), v > np.percentile(v, 90))
