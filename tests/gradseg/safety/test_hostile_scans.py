"""Radiology scans an adversary writes, through ``gradseg predict`` (with ``--dicom-seg``), the
``gradseg.predict_scans`` API and the geometry under both
(:func:`gradseg.predict_volumes.plan_outputs`): a DICOM series whose plane numbers are not
finite, absurd, not unit or parallel vectors, a pixel spacing of 0, and a SeriesInstanceUID or
SeriesNumber that would name an output ``../x`` or ``/etc/x``; with ``--dicom-seg``, a UID the
Segmentation copies that is not a DICOM UID, or a SOPInstanceUID two files share. Each ends in
one line naming the file and the DICOM field (exit 1), nothing is written outside ``--out`` and
the inputs stay byte-identical; before, these gave a misleading note and 2-D masks, a highdicom
or OS message without a file, a traceback from the API, a scan named ``series-../../x``, or a
Segmentation holding the invalid UID (or referencing one instance twice) after pydicom's and
highdicom's warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")
pytest.importorskip("highdicom", reason="highdicom not installed (extra 'medical')")
nib = pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")

from gazeprep.contract.errors import InputError  # noqa: E402
from gazeprep.contract.images import index_folder  # noqa: E402
from gradseg.predict_volumes import plan_outputs  # noqa: E402

#: case -> (DICOM keyword, value on the slice k == 1 or on every slice, field named)
CASES = {
    "position nan": ("ImagePositionPatient", ["nan", "0", "0"], "ImagePositionPatient"),
    "position inf": ("ImagePositionPatient", ["inf", "0", "0"], "ImagePositionPatient"),
    "position 1e308": ("ImagePositionPatient", ["1e308", "0", "0"], "ImagePositionPatient"),
    "orientation not unit": ("ImageOrientationPatient", [2, 0, 0, 0, 2, 0],
                             "ImageOrientationPatient"),
    "orientation parallel": ("ImageOrientationPatient", [1, 0, 0, 1, 0, 0],
                             "ImageOrientationPatient"),
    "orientation zero": ("ImageOrientationPatient", [0] * 6, "ImageOrientationPatient"),
    "orientation nan": ("ImageOrientationPatient", ["nan"] * 6, "ImageOrientationPatient"),
    "orientation three numbers": ("ImageOrientationPatient", [1, 0, 0],
                                  "ImageOrientationPatient"),
    "spacing zero": ("PixelSpacing", [0, 0], "PixelSpacing"),
    "spacing negative": ("PixelSpacing", [-1, -1], "PixelSpacing"),
    "spacing 1e308": ("PixelSpacing", [1e308, 1e308], "PixelSpacing"),
    "spacing one number": ("PixelSpacing", [0.5], "PixelSpacing"),
    "uid ../../x": ("SeriesInstanceUID", "../../x", "SeriesInstanceUID"),
    "uid /etc/x": ("SeriesInstanceUID", "/etc/x", "SeriesInstanceUID"),
    "uid line break": ("SeriesInstanceUID", "1.2\n3", "SeriesInstanceUID"),
    "uid 400 chars": ("SeriesInstanceUID", "1." * 200, "SeriesInstanceUID"),
    "number ../x": ("SeriesNumber", "../x", "SeriesNumber"),
    "number /etc/x": ("SeriesNumber", "/etc/x", "SeriesNumber"),
    "number NUL": ("SeriesNumber", "1\x002", "SeriesNumber"),
}
ONE_SLICE = ("ImagePositionPatient",)


@pytest.fixture()
def lax_pydicom(monkeypatch):
    """pydicom that writes and reads the invalid values an adversary's file holds."""
    from pydicom import config

    monkeypatch.setattr(config.settings, "writing_validation_mode", config.IGNORE)
    monkeypatch.setattr(config.settings, "reading_validation_mode", config.IGNORE)


def _series(folder: Path, src: Path, case: str | None, n: int = 3) -> Path:
    """CT_small.dcm as a series of ``n`` slices 2.5 mm apart, with ``case``'s hostile value."""
    from pydicom.dataelem import DataElement

    folder.mkdir(parents=True)
    base = pydicom.dcmread(src)
    iop = np.asarray(base.ImageOrientationPatient, float)
    normal, origin = np.cross(iop[:3], iop[3:]), np.asarray(base.ImagePositionPatient, float)
    for k in range(n):
        ds = pydicom.dcmread(src)
        ds.ImagePositionPatient = [float(v) for v in origin + 2.5 * k * normal]
        ds.InstanceNumber = k + 1
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        if case is not None:
            keyword, value, _field = CASES[case]
            if keyword == "SeriesNumber":  # as text, as a broken writer stores it
                ds[0x00200011] = DataElement(0x00200011, "LO", value)
            elif keyword not in ONE_SLICE or k == 1:
                setattr(ds, keyword, value)
            if keyword == "SeriesInstanceUID":
                del ds.SeriesNumber  # the name then comes from the UID
        ds.save_as(folder / f"s{k}.dcm")
    return folder


#: case -> (DICOM keyword, value on the slice k == 1): UIDs a DICOM Segmentation copies that
#: are not DICOM UIDs (PS3.5 9.1: digits and dots, no leading zero in a component, at most 64
#: characters), and one file's SOPInstanceUID that another file of the series has too.
SEG_CASES = {
    "study letters": ("StudyInstanceUID", "1.2.abc"),
    "study 65 characters": ("StudyInstanceUID", "1." + "2" * 63),
    "study empty": ("StudyInstanceUID", ""),
    "series leading zero": ("SeriesInstanceUID", "1.2.03"),
    "frame of reference leading zero": ("FrameOfReferenceUID", "1.02.3"),
    "frame of reference trailing dot": ("FrameOfReferenceUID", "1.2."),
    "sop class name": ("SOPClassUID", "CT Image Storage"),
    "sop instance letters": ("SOPInstanceUID", "1.2.x"),
    "sop instance empty": ("SOPInstanceUID", ""),
    "sop instance twice": ("SOPInstanceUID", None),  # slice 0's
}


def _seg_series(folder: Path, src: Path, case: str) -> Path:
    """``_series`` with ``SEG_CASES[case]``'s value in the file s1.dcm."""
    _series(folder, src, None)
    keyword, value = SEG_CASES[case]
    ds = pydicom.dcmread(folder / "s1.dcm")
    setattr(ds, keyword, pydicom.dcmread(folder / "s0.dcm").SOPInstanceUID
            if value is None else value)
    ds.save_as(folder / "s1.dcm")
    return folder


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_series_geometry_names_file_and_field(case, tmp_path, medical, lax_pydicom):
    folder = _series(tmp_path / "images", medical.pydicom_file("CT_small.dcm"), case)
    refs = index_folder(folder)
    with pytest.raises(InputError) as got:
        plan_outputs(refs, refs, dicom_seg=True)
    msg = str(got.value)
    assert msg.startswith(str(folder)) and CASES[case][2] in msg and "expected" in msg, msg
    assert "\n" not in msg


def test_honest_series_still_makes_one_scan(tmp_path, medical):
    folder = _series(tmp_path / "images", medical.pydicom_file("CT_small.dcm"), None)
    refs = index_folder(folder)
    plan = plan_outputs(refs, refs, dicom_seg=True)
    assert [s.name for s in plan.scans.values()] == ["series-1"] and not plan.notes


@pytest.mark.parametrize("case", ["position nan", "uid ../../x", "spacing zero",
                                  "study letters", "sop instance twice"])
def test_predict_refuses_hostile_series_in_one_line(case, tmp_path, medical, lax_pydicom,
                                                    untrained_checkpoint, run_cli, error_line,
                                                    tree_digest):
    build, field = ((_seg_series, SEG_CASES[case][0]) if case in SEG_CASES
                    else (_series, CASES[case][2]))
    folder = build(tmp_path / "images", medical.pydicom_file("CT_small.dcm"), case)
    ckpt = untrained_checkpoint(tmp_path, 32)
    before = tree_digest(tmp_path, skip=("out",))
    r = run_cli("gradseg", "predict", "--checkpoint", str(ckpt), "--images", str(folder),
                "--out", str(tmp_path / "out"), "--device", "cpu", "--dicom-seg")
    assert r.returncode == 1, r.stderr
    msg = error_line(r.stderr)  # one line: no pydicom or highdicom warning beside it
    assert msg.startswith(f"gradseg: error: {folder}") and field in msg, msg
    assert "predict: " not in r.stderr  # refused before the first image
    assert tree_digest(tmp_path, skip=("out",)) == before  # nothing beside --out, inputs kept
    assert not (tmp_path / "out").exists()


def test_predict_scans_api_raises_the_same_error(tmp_path, medical, lax_pydicom,
                                                 untrained_checkpoint):
    import gradseg

    folder = _series(tmp_path / "images", medical.pydicom_file("CT_small.dcm"), "uid /etc/x")
    with pytest.raises(InputError, match="SeriesInstanceUID"):
        gradseg.predict_scans(untrained_checkpoint(tmp_path, 32), folder)


@pytest.mark.parametrize("case", list(SEG_CASES))
def test_a_uid_the_segmentation_would_copy_is_refused_naming_file_and_field(
        case, tmp_path, medical, lax_pydicom):
    folder = _seg_series(tmp_path / "images", medical.pydicom_file("CT_small.dcm"), case)
    refs = index_folder(folder)
    plan_outputs(refs, refs)  # the NIfTI alone does not copy it
    with pytest.raises(InputError) as got:
        plan_outputs(refs, refs, dicom_seg=True)
    msg = str(got.value)
    field = SEG_CASES[case][0]
    assert msg.startswith(str(folder / "s1.dcm")) and field in msg and "expected" in msg, msg
    assert "\n" not in msg


def _nifti_with_sform(path: Path, rows) -> Path:
    """A NIfTI volume whose sform (coded) is ``rows``, as a broken converter writes it."""
    h = nib.Nifti1Header()
    h.set_data_shape((20, 20, 2))
    h.set_data_dtype(np.float32)
    h["srow_x"], h["srow_y"], h["srow_z"] = rows
    h["sform_code"], h["qform_code"] = 1, 0
    data = np.random.default_rng(2).normal(size=(20, 20, 2)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, None, header=h), str(path))
    return path


NIFTI_CASES = {"singular": ([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]),
               "nan": ([np.nan, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]),
               "two equal rows": ([1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0])}


@pytest.mark.parametrize("case", list(NIFTI_CASES))
def test_nifti_whose_affine_places_nothing_is_refused_before_predicting(case, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    path = _nifti_with_sform(folder / "v.nii.gz", NIFTI_CASES[case])
    refs = index_folder(folder)
    with pytest.raises(InputError) as got:
        plan_outputs(refs, refs)
    msg = str(got.value)
    assert msg.startswith(str(path)) and "affine" in msg and "expected" in msg, msg


@pytest.mark.parametrize("thickness", ["nan", "-3", "1e308"])
def test_a_lone_slice_with_an_absurd_thickness_gets_the_default_spacing(thickness, tmp_path,
                                                                          medical, lax_pydicom):
    """SliceThickness places a lone slice; one that is not a size in (0, 1e6] mm is unknown
    (highdicom's 1 mm), never an affine of 1e308 mm."""
    folder = tmp_path / "images"
    folder.mkdir()
    ds = pydicom.dcmread(medical.pydicom_file("CT_small.dcm"))
    ds.SliceThickness = thickness
    if "SpacingBetweenSlices" in ds:
        del ds.SpacingBetweenSlices
    ds.save_as(folder / "s0.dcm")
    refs = index_folder(folder)
    (scan,) = plan_outputs(refs, refs).scans.values()
    affine = scan.to_nifti(np.zeros((1, *scan.frame_shape), np.uint8)).affine
    assert np.isfinite(affine).all()
    assert np.linalg.norm(affine[:3, 2]) == pytest.approx(1.0)


def test_a_dicom_segmentation_given_as_an_image_is_refused_before_predicting(tmp_path, medical):
    """pydicom's liver_1frame.dcm is itself a Segmentation: --dicom-seg cannot segment it (it
    failed after predicting); refused at planning, naming the file."""
    import shutil

    from pydicom.data import get_testdata_file

    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copy(get_testdata_file("liver_1frame.dcm"), folder / "seg.dcm")
    before = (folder / "seg.dcm").read_bytes()
    refs = index_folder(folder)
    with pytest.raises(InputError, match="is a DICOM Segmentation") as err:
        plan_outputs(refs, refs, dicom_seg=True)
    assert "seg.dcm" in str(err.value)
    assert (folder / "seg.dcm").read_bytes() == before
