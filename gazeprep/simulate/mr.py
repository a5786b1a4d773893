"""Simulated MR-like volumes for the radiology formats: grey 16-bit slices of a body section
with organs and one lesion running through every slice, and the files they are written as
(multi-frame DICOM, NIfTI), masks in the same format.

A volume is ``K`` axial slices of ``size x size`` pixels: an elliptic body (soft tissue with a
smooth texture, a bright rim of fat) on dark air, two or three inner structures darker or
brighter than the tissue, a smooth coil
bias field, and a hyperintense lesion (as on T2) shaped like a lumpy ellipsoid: its outline is
the same on every slice, scaled by the ellipsoid's profile (0.66 to 1 of its largest radius),
so every slice has a lesion to segment. Values follow MR magnitude statistics (Rician noise
around the signal) on a 12-bit scale, 0..4095, stored as 16-bit integers.

Files (ids ``<stem>_<k>``, k from 0, as :func:`gazeprep.contract.images.index_folder` gives
them): DICOM is one multi-frame file per volume (Multi-frame Grayscale Word Secondary Capture,
frame k = slice k; the mask a Multi-frame Grayscale Byte file with 1 inside the lesion) rather
than a folder of single-frame files per series: gazeprep indexes a folder's files, not its
sub-folders, and a multi-frame file keeps the volume one object, windowed as one. NIfTI is one
``.nii.gz`` per volume, slice k = ``data[:, :, k].T`` (the usual display of the file), int16,
the mask uint8 0/1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeprep.simulate.scene import _blob_polygon, _smooth_noise

#: Voxel size (mm): in-plane spacing, slice thickness.
SPACING_MM = (0.8, 0.8, 3.0)
#: Largest stored value (12 bits) and the Rician noise level.
MAX_VALUE = 4095
NOISE = 22.0
#: The display window written into the DICOM files (centre, width): soft tissue and lesion.
WINDOW = (1000.0, 2000.0)


def make_volume(rng: np.random.Generator, size: int, n_slices: int, area_median: float = 0.06
                ) -> tuple[np.ndarray, np.ndarray, list[list[np.ndarray]]]:
    """Draw one MR-like volume with one lesion through all its slices.

    Parameters
    ----------
    rng : numpy.random.Generator
        The volume's own random stream.
    size : int
        Slice side in pixels.
    n_slices : int
        Number of slices K (>= 1).
    area_median : float
        Median lesion area on its largest slice, as a fraction of the slice.

    Returns
    -------
    volume : (K, size, size) uint16
        Values 0..4095.
    mask : (K, size, size) bool
        The lesion on each slice.
    blobs : list of K lists of (size, size) bool
        Per slice, the targets an observer scans (the lesion).
    """
    from skimage.draw import ellipse

    s = size
    body = np.zeros((s, s), bool)
    rr, cc = ellipse(s / 2, s / 2, s * rng.uniform(0.36, 0.44), s * rng.uniform(0.40, 0.47),
                     shape=(s, s))
    body[rr, cc] = True
    organs = []
    for _ in range(int(rng.integers(2, 4))):
        centre = rng.uniform(0.3 * s, 0.7 * s, 2)
        r_, c_ = ellipse(*centre, s * rng.uniform(0.06, 0.14), s * rng.uniform(0.06, 0.14),
                         rotation=rng.uniform(0, np.pi), shape=(s, s))
        # darker (muscle-like) or brighter (fluid-filled) than the surrounding tissue
        organs.append((r_, c_, rng.choice([rng.uniform(250, 420), rng.uniform(950, 1250)])))
    area = float(np.clip(np.exp(rng.normal(np.log(area_median), 0.5)), 0.015, 0.2))
    radius = np.sqrt(area / np.pi) * s
    margin = radius * 1.25
    centre = np.array([rng.uniform(s / 2 - s * 0.3 + margin, s / 2 + s * 0.3 - margin)
                       if s * 0.6 > 2 * margin else s / 2 for _ in range(2)])
    shape_seed = int(rng.integers(1 << 31))
    profile = np.sqrt(1 - np.linspace(-0.75, 0.75, n_slices) ** 2) if n_slices > 1 else [1.0]
    drift = rng.normal(0, 0.01 * s, (n_slices, 2)).cumsum(axis=0)
    tissue = rng.uniform(550, 700)
    lesion_level = tissue + rng.uniform(300, 700)
    volume = np.zeros((n_slices, s, s), np.uint16)
    mask = np.zeros((n_slices, s, s), bool)
    blobs: list[list[np.ndarray]] = []
    for k in range(n_slices):
        lesion = _lesion(shape_seed, centre + drift[k], max(radius * profile[k], 3.0), s) & body
        if lesion.sum() < 8:  # the lesion slid out of the body on a small image: a disk
            lesion = np.zeros((s, s), bool)
            lr, lc = ellipse(s / 2, s / 2, max(s / 10, 3.0), max(s / 10, 3.0), shape=(s, s))
            lesion[lr, lc] = True
        signal = _slice_signal(rng, body, organs, lesion, tissue, lesion_level)
        noisy = np.hypot(signal + rng.normal(0, NOISE, signal.shape),
                         rng.normal(0, NOISE, signal.shape))
        volume[k] = np.clip(np.rint(noisy), 0, MAX_VALUE).astype(np.uint16)
        mask[k] = lesion
        blobs.append([lesion])
    return volume, mask, blobs


def _lesion(seed: int, centre: np.ndarray, radius: float, s: int) -> np.ndarray:
    """The lesion's outline (the same lumps for one seed) at ``radius``, filled."""
    from skimage.draw import polygon

    rows, cols = _blob_polygon(np.random.default_rng(seed), tuple(centre), radius)
    out = np.zeros((s, s), bool)
    pr, pc = polygon(rows, cols, shape=(s, s))
    out[pr, pc] = True
    return out


def _slice_signal(rng, body, organs, lesion, tissue: float, lesion_level: float) -> np.ndarray:
    """Noise-free signal of one slice: tissue texture, organs, lesion, bias field."""
    from scipy.ndimage import binary_erosion
    from skimage.filters import gaussian

    s = body.shape[0]
    signal = np.where(body, tissue * (1 + 0.06 * _smooth_noise(rng, (s, s), s / 20)), 0.0)
    rim = body & ~binary_erosion(body, iterations=max(int(s * 0.025), 1))
    signal[rim] = tissue * 1.7  # subcutaneous fat, bright on T2
    for r_, c_, level in organs:
        signal[r_, c_] = np.where(body[r_, c_], level, 0.0)
    inner = 1 + 0.08 * _smooth_noise(rng, (s, s), max(s / 60, 1.0))
    signal = np.where(lesion, lesion_level * inner, signal)
    signal = gaussian(signal, sigma=max(s / 256, 0.6))  # partial volume at the edges
    yy, xx = np.mgrid[0:s, 0:s] / s - 0.5
    bias = 1 + 0.12 * (xx * np.cos(rng.uniform(0, 6.3)) + yy * np.sin(rng.uniform(0, 6.3)))
    return signal * bias


def write_nifti(path: str | Path, volume: np.ndarray, *, mask: bool = False) -> None:
    """One volume ``(K, H, W)`` as NIfTI: slice k is ``data[:, :, k].T`` (int16, or uint8 for
    a mask), voxel size :data:`SPACING_MM`."""
    import nibabel as nib

    data = np.ascontiguousarray(np.transpose(volume, (2, 1, 0)))
    data = data.astype(np.uint8 if mask else np.int16)
    img = nib.Nifti1Image(data, np.diag([*SPACING_MM, 1.0]))
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path))


def write_dicom(path: str | Path, volume: np.ndarray, *, uid_seed: str, mask: bool = False
                ) -> None:
    """One volume ``(K, H, W)`` as a multi-frame DICOM (uncompressed, explicit VR little
    endian): 12 bits stored in 16 (Grayscale Word SC) or, for a mask, 8 bits, values 0/1
    (Grayscale Byte SC). UIDs derive from ``uid_seed``, so a simulation is reproducible."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    sop_class = "1.2.840.10008.5.1.4.1.1.7.2" if mask else "1.2.840.10008.5.1.4.1.1.7.3"
    uid = generate_uid(entropy_srcs=[uid_seed, "mask" if mask else "image"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[uid_seed, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[uid_seed, "series", str(mask)])
    ds.Modality = "MR" if not mask else "OT"
    ds.PatientName, ds.PatientID = "SIMULATED", f"SIM-{uid_seed}"
    ds.ConversionType = "SYN"  # synthetic: made by a program, not a scanner
    ds.PixelSpacing = [SPACING_MM[0], SPACING_MM[1]]
    ds.SliceThickness = SPACING_MM[2]
    frames = volume.astype(np.uint8 if mask else np.uint16)
    ds.set_pixel_data(frames, "MONOCHROME2", 8 if mask else 12, generate_instance_uid=False)
    if not mask:
        ds.WindowCenter, ds.WindowWidth = WINDOW
    ds.save_as(str(path), enforce_file_format=True)
