"""The simulator's parameters (:class:`SimConfig`) and one recorded trial (:class:`AscTrial`), the
types that the observer, the ASC writer and the dataset share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Stream tags for ``default_rng((seed, tag, ...))``; independent streams per purpose.
IMAGE_STREAM = 0
TRACK_STREAM = 1
SESSION_STREAM = 2
#: ``--format``: endoscopy-like RGB PNGs, or MR-like 16-bit volumes as DICOM or NIfTI.
IMAGE_FORMATS = ("png", "dicom", "nifti")


@dataclass(frozen=True)
class SimConfig:
    """Every parameter of the simulator (recorded in ``OUT/simulate.json``).

    Parameters
    ----------
    n_images : int
        Number of images (each one trial per session).
    sessions : int
        Number of simulated observers; each views every image once, in its own order.
    size : int
        Image side in pixels (images are square).
    seed : int
        Seed of every random stream.
    screen : tuple of int
        Screen (width, height) in pixels; GAZE_COORDS is ``0 0 width-1 height-1``.
    display : int
        Side of the on-screen image rectangle in screen pixels (the image is drawn scaled,
        centred on the screen: ``!V IMGLOAD CENTER <id>.png cx cy display display``).
    px_per_deg : float
        Screen pixels per degree of visual angle (EyeLink's RES).
    rate : float
        Sampling rate in Hz (1000: one sample per ms).
    fix_median_ms, fix_log_sd : float
        Median (ms) and log standard deviation of the log-normal fixation durations.
    fix_min_ms, fix_max_ms : float
        Duration limits (ms); the minimum keeps every true fixation detectable.
    n_fix_median, n_fix_log_sd : float
        Median and log standard deviation of the number of fixations per trial.
    search_mean : float
        Mean number of search fixations (Poisson) between the central start and the scan.
    scan_start, scan_reach : float
        Where the scan of a target starts and how far its last fixations go, as fractions of
        the target's radius in the fixation's direction (the centre-to-boundary trend).
    scan_spread : float
        Standard deviation of those radius fractions around the trend.
    scan_jitter : float
        Standard deviation of the scan positions, as a fraction of the image.
    excursion_prob : float
        Probability that a scan fixation glances at the surroundings (1.15 to 1.7 target radii
        from the centre) instead of the target, as real annotators do.
    min_step : float
        Smallest saccade between two fixations, as a fraction of the image.
    area_median : float
        Median total target area as a fraction of the image (Kvasir-SEG: about 0.11).
    blink_prob : float
        Probability that an inter-fixation interval contains a blink.
    noise_px : float
        Standard deviation of the white tracker noise in screen pixels (before the tracker's
        3-sample smoothing filter).
    drift_px : float
        Standard deviation of the slow fixational drift in screen pixels.
    image_format : str
        ``png``: endoscopy-like RGB images (:mod:`~gazeprep.simulate.scene`); ``dicom`` or
        ``nifti``: MR-like grey 16-bit volumes of ``slices`` slices with a lesion
        (:mod:`~gazeprep.simulate.mr`), image ``i`` being slice ``i % slices`` of volume
        ``i // slices`` (the last volume may have fewer), masks in the same format.
    slices : int
        Slices per volume (volume formats).
    tracker : str
        The recordings' format, a writer of :data:`gazeprep.simulate.writers.WRITERS`
        (``eyelink``: ASC files).
    """

    n_images: int = 64
    sessions: int = 1
    size: int = 352
    seed: int = 0
    screen: tuple[int, int] = (1920, 1080)
    display: int = 880
    px_per_deg: float = 40.0
    rate: float = 1000.0
    fix_median_ms: float = 292.0
    fix_log_sd: float = 0.41
    fix_min_ms: float = 80.0
    fix_max_ms: float = 3000.0
    n_fix_median: float = 25.0
    n_fix_log_sd: float = 0.34
    search_mean: float = 0.5
    scan_start: float = 0.5
    scan_reach: float = 0.8
    scan_spread: float = 0.15
    scan_jitter: float = 0.01
    excursion_prob: float = 0.06
    area_median: float = 0.135
    min_step: float = 0.035
    blink_prob: float = 0.06
    noise_px: float = 0.8
    drift_px: float = 1.0
    image_format: str = "png"
    slices: int = 8
    tracker: str = "eyelink"
    extra: dict = field(default_factory=dict)

    @property
    def volumes(self) -> bool:
        """Whether the images are slices of volumes (DICOM, NIfTI)."""
        return self.image_format != "png"

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """On-screen image rectangle (left, top, width, height) in screen pixels."""
        w, h = self.screen
        return (w / 2 - self.display / 2, h / 2 - self.display / 2, self.display, self.display)


@dataclass
class AscTrial:
    """One recorded trial: samples, tracker events and the image rectangle.

    Attributes
    ----------
    image_id : str
        Image file stem; the IMGLOAD message names ``<image_id>.png``.
    trial_no : int
        TRIALID number.
    t : (n,) int64
        Sample timestamps in ms (consecutive).
    x, y : (n,) float64
        Gaze in screen pixels, NaN where missing (blinks).
    pupil : (n,) float64
        Pupil area (arbitrary units), 0 where missing.
    fix : tuple of arrays
        (start, end, x, y, pupil) per fixation; times in ms, inclusive.
    sacc : tuple of arrays
        (start, end, x0, y0, x1, y1, amplitude_deg, peak_velocity_deg_s) per saccade.
    blink : tuple of arrays
        (start, end) per blink, inclusive.
    rect : tuple of float
        On-screen image rectangle (left, top, width, height) in screen pixels.
    """

    image_id: str
    trial_no: int
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    pupil: np.ndarray
    fix: tuple
    sacc: tuple
    blink: tuple
    rect: tuple[float, float, float, float]
