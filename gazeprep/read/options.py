"""Every parameter of ingest, in one place: :class:`IngestOptions` and the choices of its options.

The readers, the detectors, ingest and the ``gazeprep ingest`` command all take their
parameters and defaults from here (the command's option defaults are ``IngestOptions()``'s).
This module is light: the command line imports it to print ``--help``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gazeprep.errors import GazeprepError

#: ``--format``: ``auto`` (the readers' own sniffing) or a reader of :func:`gazeprep.read.readers`.
FORMAT_CHOICES = ("auto", "edf", "asc", "smi-begaze", "pupil-core", "pupil-neon", "gazepoint",
                  "reflacx", "tobii-prolab", "tobii-studio", "tobii-sdk", "fixreport", "samples")
#: ``--detector``: ``auto``, the tracker's own events, or a detector of
#: :data:`gazeprep.detect.DETECTORS`.
DETECTOR_CHOICES = ("auto", "tracker", "ivt", "idt")
EYE_CHOICES = ("auto", "L", "R", "both")
#: ``normalized`` is accepted for ``normalised``.
COORDS_CHOICES = ("auto", "normalised", "normalized", "pixels")
UNITS_CHOICES = ("deg", "px")
TIME_UNIT_CHOICES = ("ms", "s", "us")
#: ``--preset``: named sets of detection parameters, applied to the options not given on the
#: command line. ``tobii``: Tobii's I-VT fixation filter (Olsen 2012, "The Tobii I-VT Fixation
#: Filter"; :mod:`gazeprep.detect.tobii`), with I-VT.
PRESETS: dict[str, dict[str, float]] = {
    "none": {},
    "tobii": {"gap_fill": 75.0, "ivt_window": 20.0, "ivt_velocity": 30.0, "merge_gap": 75.0,
              "merge_distance": 0.5, "min_duration": 60.0},
}
PRESET_CHOICES = tuple(PRESETS)
#: How each preset parameter reads in ``--help`` (value inserted).
_PRESET_TEXT = {"gap_fill": "gap fill-in up to {:g} ms (linear)",
                "ivt_window": "velocity window {:g} ms", "ivt_velocity": "threshold {:g} deg/s",
                "merge_gap": "merge fixations <= {:g} ms apart", "merge_distance":
                "and <= {:g} deg", "min_duration": "discard fixations < {:g} ms"}


def describe_preset(name: str) -> str:
    """``--help`` text of a preset, from :data:`PRESETS` (the one place its values live)."""
    return ", ".join(_PRESET_TEXT[k].format(v) for k, v in PRESETS[name].items())


@dataclass
class IngestOptions:
    """Every ingest parameter (recorded in ``ingest.json``).

    Parameters
    ----------
    format : str
        ``auto`` or one of :data:`FORMAT_CHOICES` (the readers of :func:`gazeprep.read.readers`).
    detector : str
        ``auto`` (tracker events when the file has EFIX lines, else I-VT), ``tracker``, ``ivt``,
        ``idt``.
    eye : str
        ``auto`` (monocular: that eye; binocular: the ``eye_used`` message if any, else left),
        ``L``, ``R`` or ``both`` (each eye its own track, session ``<stem>:L`` / ``<stem>:R``).
    images : str or None
        Folder with the images, looked up by file stem (= id) to get their pixel size.
    image_rect : tuple of 4 floats or None
        ``X Y W H``: where the image lies on screen (screen pixels), when the log does not say.
    min_duration : float
        Fixations shorter than this (ms) are dropped and counted.
    coords : str
        Fixation reports: ``auto``, ``normalised`` or ``pixels``.
    lenient : bool
        Record malformed lines/files in ``ingest.json`` and go on instead of failing.
    ivt_velocity : float
        I-VT: a sample is part of a fixation below this speed (deg/s, or px/s with ``units="px"``).
    ivt_window : float
        I-VT: speed measured over this window (ms) centred on each sample, against noise.
    idt_dispersion : float
        I-DT: maximal (max x - min x) + (max y - min y) of a fixation window (deg, or px).
    idt_window : float
        I-DT: minimal fixation window (ms).
    units : str
        ``deg`` (thresholds in degrees; needs the screen geometry) or ``px``.
    screen_size_cm, screen_px : tuple of 2 floats or None
        Physical screen size (cm) and resolution (px); default resolution from GAZE_COORDS.
    distance_cm : float
        Eye-screen distance (cm).
    max_gap : float
        Detectors never bridge a gap between valid samples longer than this (ms).
    merge_gap, merge_distance : float
        After I-VT/I-DT, merge consecutive fixations at most ``merge_gap`` ms apart whose
        positions differ by at most ``merge_distance`` (deg, or px with ``units="px"``);
        default 75 ms and 0.5 deg, as in Tobii's I-VT filter (Olsson 2007): without it I-DT
        splits a fixation whose first window opens in the previous saccade's tail.
        ``merge_gap = 0`` disables merging.
    max_validation_avg, max_validation_max : float
        Gaze quality: a trial whose last validation's average / maximum error exceeds this
        (deg) is flagged (defaults 1.0 and 1.5: EyeLink's own POOR grade; see
        :class:`gazeprep.quality.Thresholds`).
    max_loss : float
        Gaze quality: a trial losing more than this share of its samples (%) is flagged.
    max_rate_deviation : float
        Gaze quality: a trial whose measured sampling rate differs from the header's by more
        than this (%) is flagged.
    preset : str
        ``none`` or a key of :data:`PRESETS` (``tobii``: Tobii's I-VT filter, which then
        replaces plain I-VT; :meth:`with_preset` sets its parameters).
    gap_fill : float
        ``--preset tobii``: missing samples in gaps up to this long (ms) are interpolated.
    """

    format: str = "auto"
    detector: str = "auto"
    eye: str = "auto"
    images: str | None = None
    image_rect: tuple[float, float, float, float] | None = None
    min_duration: float = 50.0
    coords: str = "auto"
    lenient: bool = False
    ivt_velocity: float = 30.0
    ivt_window: float = 20.0
    idt_dispersion: float = 1.0
    idt_window: float = 100.0
    units: str = "deg"
    screen_size_cm: tuple[float, float] | None = (53.0, 30.0)
    screen_px: tuple[float, float] | None = None
    distance_cm: float = 60.0
    max_gap: float = 75.0
    merge_gap: float = 75.0
    merge_distance: float = 0.5
    sample_columns: dict[str, str] = field(default_factory=dict)
    sample_rate: float | None = None
    time_unit: str = "ms"
    max_validation_avg: float = 1.0
    max_validation_max: float = 1.5
    max_loss: float = 20.0
    max_rate_deviation: float = 5.0
    preset: str = "none"
    gap_fill: float = 0.0
    _sizes: dict[str, tuple[int, int] | None] = field(default_factory=dict, repr=False)
    _image_paths: dict[str, Path] | None = field(default=None, repr=False)

    def with_preset(self, given: set[str] | frozenset[str] = frozenset()) -> IngestOptions:
        """These options with :attr:`preset`'s parameters, except those named in ``given``
        (the options the user set explicitly)."""
        from dataclasses import replace

        return replace(self, **{k: v for k, v in PRESETS[self.preset].items() if k not in given})

    def params(self) -> dict[str, Any]:
        """The parameters as JSON-able values."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def has_image(self, image: str) -> bool:
        """Whether ``--images`` holds a file for id ``image`` (False without ``--images``)."""
        if self.images is None:
            return False
        if self._image_paths is None:
            self._image_paths = index_images(self.images)
        return image in self._image_paths

    def image_size(self, image: str) -> tuple[int, int] | None:
        """``(width, height)`` in pixels of image ``image`` found in ``--images``, else None.

        Only the file header is read (``PIL.Image.open(...).size``, PIL being scikit-image's
        own image dependency), and only names inside ``--images`` are ever opened.
        """
        if self.images is None:
            return None
        if image not in self._sizes:
            if self._image_paths is None:
                self._image_paths = index_images(self.images)
            p = self._image_paths.get(image)
            self._sizes[image] = None if p is None else read_image_size(p)
        return self._sizes[image]


def index_images(folder: str | Path) -> dict:
    """Id -> :class:`~gazeprep.contract.images.ImageRef` of the images in ``folder``.

    The same lookup ``render`` uses, with the default image options (volume slices along the
    last axis, counted from 0).
    """
    from gazeprep.contract.images import index_folder

    return index_folder(folder)


def read_image_size(ref) -> tuple[int, int]:
    """``(width, height)`` of an indexed image from its header, without decoding the pixels."""
    from gazeprep.contract.images import image_size
    from gazeprep.limits import size_problem

    height, width = image_size(ref)
    problem = size_problem(width, height)
    if problem:
        raise GazeprepError(f"{problem} (header says {width} x {height})", file=ref.path)
    return width, height
