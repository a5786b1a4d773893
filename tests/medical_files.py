"""Helpers for the radiology-format tests: shipped test files and files written on the spot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def pydicom_file(name: str) -> Path:
    """A test file that the pydicom wheel ships (never one it would download)."""
    pydicom = pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")
    p = Path(pydicom.__file__).parent / "data" / "test_files" / name
    if not p.is_file():
        pytest.skip(f"pydicom {pydicom.__version__} does not ship {name}")
    return p


def nibabel_file(name: str) -> Path:
    """A test volume that the nibabel wheel ships."""
    nib = pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")
    p = Path(nib.__file__).parent / "tests" / "data" / name
    if not p.is_file():
        pytest.skip(f"nibabel {nib.__version__} does not ship tests/data/{name}")
    return p


def write_dicom(path: Path, frames: np.ndarray, *, photometric: str = "MONOCHROME2",
                rescale: tuple[float, float] | None = None,
                window: tuple[float, float] | None = None) -> Path:
    """Write ``frames`` ((H, W) one frame, (K, H, W) multi-frame) as an uncompressed DICOM.

    The integer dtype is kept (uint8, uint16, int16); ``rescale`` = (slope, intercept) and
    ``window`` = (center, width) are stored as the file's attributes.
    """
    pytest.importorskip("pydicom", reason="pydicom not installed (extra 'medical')")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.Modality = "OT"
    arr = np.ascontiguousarray(frames)
    ds.set_pixel_data(arr, photometric, arr.dtype.itemsize * 8)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.save_as(path, enforce_file_format=True)
    return path


def write_nifti(path: Path, data: np.ndarray) -> Path:
    """Write a NIfTI-1 volume (identity affine), dtype kept."""
    nib = pytest.importorskip("nibabel", reason="nibabel not installed (extra 'medical')")
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def write_nrrd(path: Path, data: np.ndarray) -> Path:
    """Write an NRRD volume (pynrrd, Fortran index order like its reader's default)."""
    nrrd = pytest.importorskip("nrrd", reason="pynrrd not installed (extra 'medical')")
    nrrd.write(str(path), data)
    return path


def slices_to_volume(images: list[np.ndarray]) -> np.ndarray:
    """The volume whose slice k along the last axis displays as ``images[k]`` (data[:,:,k].T)."""
    return np.ascontiguousarray(np.stack([im.T for im in images], axis=-1))
