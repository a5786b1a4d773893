"""What an export writes for each image: the cache's pixels, or the source file's own.

:class:`CacheFiles` (the default) writes the cache's RGB pixels and labels at its size S x S as
PNG. :class:`SourceFiles` (``gazeprep export --images DIR``) goes back to the image files
render read: each image at its own resolution, its labels resized back to it (nearest
neighbour, so they stay 0/1); DICOM, NIfTI and NRRD sources become one-channel NIfTI files of
the file's own values (after DICOM's rescale: CT in HU) with its pixel spacing, the channel
named for the modality, as nnU-Net expects of radiology; photographs stay RGB PNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.errors import GazeprepError

#: nnU-Net's channel names of RGB PNG images (its NaturalImage2DIO reads them as 3 channels).
RGB_CHANNELS = {"0": "R", "1": "G", "2": "B"}


def save_png(path: Path, pixels: np.ndarray) -> None:
    """An (H, W) or (H, W, 3) uint8 array as PNG."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(pixels)).save(path, format="PNG")


@dataclass
class CacheFiles:
    """The cache's own pixels: RGB PNG image and 0/1 PNG label, S x S."""

    ending: str = ".png"
    channels: dict = field(default_factory=lambda: dict(RGB_CHANNELS))

    def write(self, image_path: Path, label_path: Path, key: str, image: np.ndarray,
              label: np.ndarray) -> None:
        save_png(image_path, np.moveaxis(image, 0, -1))
        save_png(label_path, (label[0] > 0).astype(np.uint8))


@dataclass
class SourceFiles:
    """The source files' own pixels at their own size (see the module notes).

    Parameters
    ----------
    refs : dict
        Id -> :class:`~gazeprep.contract.images.ImageRef` of the exported images.
    modality : str or None
        The channel name of radiology images (``CT``, ``MR``, ``T2``...); default the DICOM
        files' Modality.
    """

    refs: dict
    modality: str | None = None
    ending: str = ".png"
    channels: dict = field(default_factory=lambda: dict(RGB_CHANNELS))

    def __post_init__(self) -> None:
        from gazeprep.contract.source import modality

        kinds = {ref.kind == "raster" for ref in self.refs.values()}
        if len(kinds) > 1:
            raise GazeprepError("--images mixes photographs with DICOM/NIfTI/NRRD files; nnU-Net "
                                "takes one file type a dataset: export them separately (--ids)")
        if kinds == {False}:
            first = next(iter(self.refs.values()))
            name = self.modality or modality(first)
            if not name:
                raise GazeprepError("the images' modality is unknown (no DICOM Modality): give "
                                    "--modality, e.g. MR or CT (nnU-Net normalises CT by its "
                                    "HU statistics, other channels per image)", file=first.path)
            self.ending, self.channels = ".nii.gz", {"0": name}

    def write(self, image_path: Path, label_path: Path, key: str, image: np.ndarray,
              label: np.ndarray) -> None:
        from gazeprep.contract.images import read_image
        from gazeprep.contract.source import read_values, save_nifti
        from gazeprep.contract.spacing import pixel_spacing

        ref = self.refs[key]
        if self.ending == ".png":
            rgb = read_image(ref)
            save_png(image_path, rgb)
            save_png(label_path, _nearest(label[0] > 0, rgb.shape[:2]).astype(np.uint8))
            return
        values = read_values(ref)
        if values.ndim != 2:
            raise GazeprepError(f"expected one grey channel, got shape {values.shape}",
                                file=ref.path)
        spacing = pixel_spacing(ref) or (1.0, 1.0)
        save_nifti(image_path, values.astype(np.float32), spacing)
        save_nifti(label_path, _nearest(label[0] > 0, values.shape).astype(np.uint8), spacing)


def _nearest(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A 0/1 (S, S) mask at (H, W), nearest neighbour (it stays 0/1)."""
    from PIL import Image

    im = Image.fromarray(mask.astype(np.uint8)).resize((shape[1], shape[0]), Image.NEAREST)
    return np.asarray(im) > 0
