"""The options of every gazeprep command that reads image or mask files (one definition).

They build one :class:`gazeprep.contract.images.ImageOptions`; gradseg's eval and predict take
the same options and default to the ones the cache was rendered with.
"""

from __future__ import annotations

import typer

WINDOW = typer.Option(
    "auto", "--window", metavar="C,W|auto|minmax",
    help="8-bit window for images that are not 8-bit: CENTER,WIDTH (e.g. 40,400 for CT soft "
         "tissue); auto = the DICOM file's window, else the 0.5-99.5th percentiles of the "
         "volume; minmax = its min and max.",
)
SLICE_AXIS = typer.Option(
    2, "--slice-axis", min=0, max=2, help="NIfTI/NRRD: array axis the 2-D slices are taken "
    "along (slice k of axis 2 is data[:, :, k].T)."
)
SLICE_BASE = typer.Option(
    0, "--slice-base", min=0, max=1, help="First k in the ids <stem>_<k> of volume slices and "
    "multi-frame DICOM frames (1 to match reports that count from 1)."
)
FLIP = typer.Option(
    False, "--flip", help="NIfTI/NRRD stored with rows first: slice k is data[:, :, k], not "
    "its transpose."
)
LABEL = typer.Option(
    None, "--label", min=0, max=65535, help="Masks: foreground is this label value, 0-65535 "
    "(default: nonzero; 8-bit masks with values >= 128: >= 128). A label no mask holds is an "
    "error; masks without it are counted; JPEG masks (lossy) are refused."
)


def image_options(window: str, slice_axis: int, slice_base: int, flip: bool,
                  label: int | None):
    """The options as one ImageOptions; a bad ``--window`` is a usage error (exit 2)."""
    from gazeprep.contract.images import ImageOptions, parse_window

    try:
        return ImageOptions(parse_window(window), slice_axis, slice_base, flip, label)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--window") from exc
