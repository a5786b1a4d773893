"""Simulated gaze datasets with known truth: lesion-like images, masks and EyeLink recordings.

The simulated observer follows the GazeMedSeg annotation protocol: a short search over the
image, then a thorough scan of each target from its centre outwards to its boundary. Fixation
durations are log-normal (median about 300 ms), saccades follow the main sequence with a
minimum-jerk velocity profile, samples are 1000 Hz with tracker noise, fixational drift and
occasional blinks (missing samples), and the tracker's own events (EFIX/ESACC/EBLINK) are
written with EyeLink's conventions by :mod:`gazeprep.asc_writer`.

Everything is deterministic for a seed: each image and each (session, image) trial draws from
its own ``numpy.random.Generator`` seeded by ``(seed, kind, index...)``, so a dataset with more
images starts with the same images as a smaller one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.asc_writer import AscTrial, write_asc

#: Stream tags for ``default_rng((seed, tag, ...))``; independent streams per purpose.
_IMAGE_STREAM = 0
_TRACK_STREAM = 1
_SESSION_STREAM = 2


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
    extra: dict = field(default_factory=dict)

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """On-screen image rectangle (left, top, width, height) in screen pixels."""
        w, h = self.screen
        return (w / 2 - self.display / 2, h / 2 - self.display / 2, self.display, self.display)


# --------------------------------------------------------------------------- images


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to zero mean, unit standard deviation."""
    from skimage.filters import gaussian

    field_ = gaussian(rng.standard_normal(shape), sigma=sigma, mode="wrap")
    return (field_ - field_.mean()) / (field_.std() + 1e-12)


def _blob_polygon(
    rng: np.random.Generator, centre: tuple[float, float], radius: float, n: int = 96
) -> tuple[np.ndarray, np.ndarray]:
    """An irregular closed outline: a circle whose radius carries a few random harmonics.

    Returns the (rows, cols) of the outline vertices in pixels.
    """
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 6):
        r += rng.uniform(0, 0.22 / k**0.7) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r *= radius * rng.uniform(0.85, 1.15, size=1)
    aspect = rng.uniform(0.75, 1.0)
    rot = rng.uniform(0, np.pi)
    dr, dc = r * np.sin(theta) * aspect, r * np.cos(theta)
    rows = centre[0] + dr * np.cos(rot) - dc * np.sin(rot)
    cols = centre[1] + dr * np.sin(rot) + dc * np.cos(rot)
    return rows, cols


def make_image(
    rng: np.random.Generator, size: int, area_median: float = 0.135
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Draw one endoscopy-like image with one to three polyp-like targets.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (the image's own stream).
    size : int
        Image side in pixels.
    area_median : float
        Median total target area as a fraction of the image.

    Returns
    -------
    rgb : (size, size, 3) uint8
        The image.
    mask : (size, size) bool
        Union of the targets (ground truth).
    blobs : list of (size, size) bool
        Each target's own mask, largest first (what the observer scans).
    """
    from skimage.draw import bezier_curve, ellipse, polygon
    from skimage.filters import gaussian

    s = size
    # Mucosa: reddish-pink, textured at three scales, darker towards the corners (vignetting).
    tex = (
        0.55 * _smooth_noise(rng, (s, s), s / 12)
        + 0.3 * _smooth_noise(rng, (s, s), s / 40)
        + 0.15 * _smooth_noise(rng, (s, s), 1.2)
    )
    base = np.array([0.72, 0.36, 0.30]) + rng.uniform(-0.06, 0.06, 3)
    img = base[None, None, :] * (1 + 0.16 * tex[..., None])
    rr, cc = np.mgrid[0:s, 0:s] / (s - 1) - 0.5
    vignette = 1 - 0.9 * np.clip(np.hypot(rr, cc) - 0.25, 0, None) ** 1.5
    # Folds and vessels: a few dark curved lines.
    lines = np.zeros((s, s))
    for _ in range(rng.integers(2, 6)):
        pts = rng.uniform(0, s - 1, size=6).astype(int)
        r_, c_ = bezier_curve(*pts, weight=rng.uniform(0.5, 2.0), shape=(s, s))
        lines[r_, c_] = 1.0
    lines = gaussian(lines, sigma=rng.uniform(1.0, 2.5))
    img = img * (1 - 0.9 * (lines / (lines.max() + 1e-12))[..., None] * rng.uniform(0.1, 0.35))

    n_blobs = rng.choice([1, 2, 3], p=[0.75, 0.2, 0.05])
    # Total target area as a fraction of the image, log-normal like Kvasir-SEG (median ~0.10).
    total = float(np.clip(np.exp(rng.normal(np.log(area_median), 0.8)), 0.015, 0.45))
    shares = np.sort(rng.dirichlet(np.full(n_blobs, 2.0)))[::-1]
    blobs: list[np.ndarray] = []
    mask = np.zeros((s, s), bool)
    for share in shares:
        radius = np.sqrt(total * share / np.pi) * s
        margin = min(radius * 1.1, s / 2 - 2)
        centre = tuple(rng.uniform(margin, s - margin, size=2))
        rows, cols = _blob_polygon(rng, centre, radius)
        br, bc = polygon(rows, cols, shape=(s, s))
        blob = np.zeros((s, s), bool)
        blob[br, bc] = True
        blob &= ~mask  # overlapping targets: each pixel belongs to the first (larger) one
        if blob.sum() < 8:
            continue
        blobs.append(blob)
        mask |= blob

        # Polyp look: paler/orange, dome shading, fine texture, soft edge, varied contrast.
        contrast = rng.uniform(0.3, 1.0)
        colour = np.array([0.86, 0.55, 0.45]) + rng.uniform(-0.08, 0.08, 3)
        alpha = gaussian(blob.astype(float), sigma=rng.uniform(0.8, 2.5))
        yy, xx = np.nonzero(blob)
        cy, cx = yy.mean(), xx.mean()
        d = np.hypot(*(np.mgrid[0:s, 0:s] - np.array([cy, cx])[:, None, None])) / max(radius, 1)
        dome = 1 + 0.25 * np.clip(1 - d**2, 0, None)
        fine = 1 + 0.08 * _smooth_noise(rng, (s, s), rng.uniform(0.8, 2.0))
        target = colour[None, None, :] * (dome * fine)[..., None]
        img = img + (contrast * alpha)[..., None] * (target - img)

    if not blobs:  # every drawn target was too small for this image size: one small disk
        dr_, dc_ = ellipse(s / 2, s / 2, max(s / 10, 2.0), max(s / 10, 2.0), shape=(s, s))
        mask[dr_, dc_] = True
        blobs.append(mask.copy())
        img[mask] = 0.5 * img[mask] + 0.5 * np.array([0.86, 0.55, 0.45])

    # Specular highlights (the endoscope's light), small white spots anywhere.
    for _ in range(rng.integers(3, 12)):
        er, ec = ellipse(*rng.uniform(0, s, 2), *rng.uniform(0.8, 4.0, 2), shape=(s, s))
        img[er, ec] = 1.0
    img = gaussian(img, sigma=0.7, channel_axis=-1) * vignette[..., None]
    img += 0.015 * rng.standard_normal(img.shape)
    rgb = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return rgb, mask, blobs


# --------------------------------------------------------------------------- observer


def _boundary_radius(blob: np.ndarray, centre: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Distance (pixels) from ``centre`` to the blob boundary along each direction ``theta``.

    Rays are marched in half-pixel steps; the radius is the last step still inside the blob.
    """
    s = blob.shape[0]
    steps = np.arange(0, 1.5 * s, 0.5)
    rows = centre[0] + np.sin(theta)[:, None] * steps[None, :]
    cols = centre[1] + np.cos(theta)[:, None] * steps[None, :]
    valid = (rows >= 0) & (rows < s) & (cols >= 0) & (cols < s)
    inside = np.zeros_like(valid)
    inside[valid] = blob[np.rint(rows[valid]).astype(int).clip(0, s - 1),
                         np.rint(cols[valid]).astype(int).clip(0, s - 1)]
    # First outside step along each ray (rays start inside: centre is the deepest pixel).
    first_out = np.argmax(~inside, axis=1)
    return np.maximum(steps[np.maximum(first_out - 1, 0)], 1.0)


def _blob_centre(blob: np.ndarray) -> np.ndarray:
    """The blob pixel nearest its centroid (row, col): the centroid may lie outside a crescent."""
    yy, xx = np.nonzero(blob)
    c = np.array([yy.mean(), xx.mean()])
    k = np.argmin((yy - c[0]) ** 2 + (xx - c[1]) ** 2)
    return np.array([yy[k], xx[k]], float)


def observer_track(
    rng: np.random.Generator, blobs: list[np.ndarray], cfg: SimConfig, speed: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plan one trial's fixations: centre start, search, then centre-to-boundary scans.

    Parameters
    ----------
    rng : numpy.random.Generator
        The trial's random stream.
    blobs : list of bool arrays
        Target masks, largest first.
    cfg : SimConfig
        Simulator parameters.
    speed : float
        The observer's personal duration factor (multiplies every fixation duration).

    Returns
    -------
    xy : (n, 2) float64
        Fixation positions, normalised image coordinates (x, y), 0 = left/top.
    duration_ms : (n,) int64
        Fixation durations in ms.
    phase : (n,) int8
        0 = start, 1 = search, 2 = scan.
    """
    s = blobs[0].shape[0]
    n_total = int(np.clip(round(np.exp(rng.normal(np.log(cfg.n_fix_median), cfg.n_fix_log_sd))),
                          5, 99))
    n_search = int(min(rng.poisson(cfg.search_mean), max(n_total - 4, 0)))
    n_scan = n_total - 1 - n_search

    pts = [np.array([0.5, 0.5]) + rng.normal(0, 0.02, 2)]
    phase = [0]
    centres = [(_blob_centre(b)[::-1] + 0.5) / s for b in blobs]  # (x, y) normalised
    for _ in range(n_search):
        if rng.random() < 0.5:
            p = rng.uniform(0.1, 0.9, 2)
        else:  # homing in on a target seen in the periphery
            p = centres[rng.integers(len(centres))] + rng.normal(0, 0.12, 2)
        pts.append(p)
        phase.append(1)

    # Scan fixations per target ~ sqrt(area): the main target gets most of them.
    areas = np.array([b.sum() for b in blobs], float)
    weights = np.sqrt(areas) / np.sqrt(areas).sum()
    counts = np.floor(weights * n_scan).astype(int)
    counts[0] += n_scan - counts.sum()
    for blob, centre, n in zip(blobs, centres, counts, strict=True):
        if n <= 0:
            continue
        k = np.arange(n)
        frac = cfg.scan_start + (cfg.scan_reach - cfg.scan_start) * (k / max(n - 1, 1)) ** 0.8
        frac = np.clip(frac + rng.normal(0, cfg.scan_spread, n), 0.0, None)
        away = rng.random(n) < cfg.excursion_prob
        frac[away] = rng.uniform(1.15, 1.7, away.sum())
        # Sweep around the target in one direction, in steps of about 60 degrees.
        sweep = rng.choice([-1, 1]) * rng.uniform(0.8, 1.4)
        theta = rng.uniform(0, 2 * np.pi) + k * sweep + rng.normal(0, 0.3, n)
        radius = _boundary_radius(blob, centre[::-1] * s - 0.5, theta) / s
        scan = centre[None, :] + (frac * radius)[:, None] * np.stack(
            [np.cos(theta), np.sin(theta)], axis=1
        )
        scan += rng.normal(0, cfg.scan_jitter, scan.shape)
        pts.extend(scan)
        phase.extend([2] * n)

    xy = np.clip(np.array(pts), 0.02, 0.98)
    # Enforce a minimum saccade so that consecutive fixations are separable by any detector.
    for i in range(1, len(xy)):
        step = xy[i] - xy[i - 1]
        norm = np.hypot(*step)
        if norm < cfg.min_step:
            direction = step / norm if norm > 1e-9 else np.array([1.0, 0.0])
            cand = xy[i - 1] + direction * cfg.min_step
            if not np.all((cand > 0.02) & (cand < 0.98)):
                cand = xy[i - 1] - direction * cfg.min_step
            xy[i] = cand
    phase_arr = np.array(phase, np.int8)
    dur = np.exp(rng.normal(np.log(cfg.fix_median_ms * speed), cfg.fix_log_sd, len(xy)))
    dur[phase_arr == 1] *= 0.8  # search fixations are shorter than scrutinising ones
    dur = np.clip(np.round(dur), cfg.fix_min_ms, cfg.fix_max_ms).astype(np.int64)
    return xy, dur, phase_arr


# --------------------------------------------------------------------------- samples


def _min_jerk(tau: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile on [0, 1] (bell-shaped velocity, the main-sequence shape)."""
    return tau**3 * (10 - 15 * tau + 6 * tau**2)


def synthesize_trial(
    rng: np.random.Generator,
    xy: np.ndarray,
    duration_ms: np.ndarray,
    cfg: SimConfig,
    t0: int,
    image_id: str,
    trial_no: int,
) -> AscTrial:
    """Turn planned fixations into 1000 Hz samples and the tracker's events.

    Timeline: ``lead`` samples on the first fixation before the tracker's first SFIX, then
    fixation / saccade / fixation ...; a saccade lasts ``2.2 * A + 21`` ms for an amplitude of
    ``A`` degrees (main sequence) and may carry a blink (missing samples) before its movement.

    Parameters
    ----------
    rng : numpy.random.Generator
        The trial's random stream.
    xy : (n, 2) float
        Fixation positions, normalised image coordinates.
    duration_ms : (n,) int
        Fixation durations in ms (= samples at 1000 Hz).
    cfg : SimConfig
        Simulator parameters.
    t0 : int
        Timestamp (ms) of the trial's first sample (START and image onset).
    image_id, trial_no : str, int
        The image on screen and the TRIALID number.

    Returns
    -------
    AscTrial
        Samples, events and messages of the trial.
    """
    left, top, w, h = cfg.rect
    scr = np.column_stack([left + xy[:, 0] * w, top + xy[:, 1] * h])
    n = len(scr)
    amp_px = np.hypot(*np.diff(scr, axis=0).T)
    amp_deg = amp_px / cfg.px_per_deg
    sac_len = np.round(2.2 * amp_deg + 21).astype(np.int64)
    blink = rng.random(n - 1) < cfg.blink_prob
    blink_len = np.where(blink, np.clip(np.exp(rng.normal(np.log(110), 0.3, n - 1)), 60, 300), 0)
    blink_len = blink_len.astype(np.int64)
    blink_pre = np.where(blink, 4, 0)  # the lid starts closing a few ms after the saccade onset
    gap_len = sac_len + blink_len + blink_pre
    lead = int(rng.integers(3, 12))

    # Segment table: [lead, fix0, gap0, fix1, gap1, ..., fix_{n-1}].
    seg_len = np.empty(2 * n, np.int64)
    seg_len[0] = lead
    seg_len[1::2] = duration_ms
    seg_len[2::2] = gap_len
    seg_start = np.concatenate([[0], np.cumsum(seg_len)[:-1]])
    total = int(seg_len.sum())
    seg_of = np.repeat(np.arange(2 * n), seg_len)
    local = np.arange(total) - seg_start[seg_of]

    pos = np.empty((total, 2))
    is_fix = (seg_of % 2 == 1) | (seg_of == 0)
    fix_idx = np.where(seg_of == 0, 0, (seg_of - 1) // 2)
    pos[is_fix] = scr[fix_idx[is_fix]]
    is_gap = ~is_fix
    g = (seg_of[is_gap] - 2) // 2  # gap index: between fixation g and g + 1
    moving = local[is_gap] - blink_pre[g] - blink_len[g]
    tau = np.clip((moving + 1) / sac_len[g], 0, 1)
    prof = _min_jerk(tau)[:, None]
    pos[is_gap] = scr[g] + prof * (scr[g + 1] - scr[g])
    missing = np.zeros(total, bool)
    in_blink = (local[is_gap] >= blink_pre[g]) & (local[is_gap] < blink_pre[g] + blink_len[g])
    missing[np.nonzero(is_gap)[0][in_blink]] = True

    # Fixational drift: slow, bounded wander (a 150 ms moving sum of white noise, i.e.
    # stationary with standard deviation drift_px), not an unbounded random walk.
    win = 150
    walk = np.cumsum(rng.normal(0, 1, (total + win, 2)), axis=0)
    drift = (walk[win:] - walk[:-win]) * (cfg.drift_px / np.sqrt(win))
    noise = rng.normal(0, cfg.noise_px, (total + 2, 2))
    noise = (noise[:-2] + noise[1:-1] + noise[2:]) / 3  # the tracker's heuristic filter
    pos = pos + drift + noise
    pupil = 900 + 150 * np.sin(np.arange(total) / 2500 + rng.uniform(0, 6.28))
    pupil = np.round(pupil + rng.normal(0, 3, total))
    pos[missing] = np.nan
    pupil[missing] = 0.0
    # The tracker writes one decimal; its events average exactly what it wrote.
    pos = np.round(pos, 1)
    t = t0 + np.arange(total, dtype=np.int64)

    fix_start = seg_start[1::2]
    fix_end = fix_start + duration_ms - 1
    # Fixation samples are never missing: window means from cumulative sums.
    cpos = np.concatenate([np.zeros((1, 2)), np.cumsum(np.nan_to_num(pos), axis=0)])
    cpup = np.concatenate([[0.0], np.cumsum(pupil)])
    fix_xy = (cpos[fix_end + 1] - cpos[fix_start]) / duration_ms[:, None]
    fix_pupil = (cpup[fix_end + 1] - cpup[fix_start]) / duration_ms
    gap_start = seg_start[2::2]
    gap_end = gap_start + gap_len - 1
    sac_xy0 = pos[gap_start - 1]
    sac_xy1 = pos[gap_end + 1]
    # EyeLink's amplitude (deg) and peak velocity (deg/s) of the minimum-jerk profile.
    sac_amp = amp_deg
    sac_pv = 1.875 * amp_deg / (sac_len / cfg.rate)
    bl = np.nonzero(blink)[0]
    blink_start = gap_start[bl] + blink_pre[bl]
    blink_end = blink_start + blink_len[bl] - 1

    return AscTrial(
        image_id=image_id,
        trial_no=trial_no,
        t=t,
        x=pos[:, 0],
        y=pos[:, 1],
        pupil=pupil,
        fix=(t0 + fix_start, t0 + fix_end, fix_xy[:, 0], fix_xy[:, 1], fix_pupil),
        sacc=(t0 + gap_start, t0 + gap_end, sac_xy0[:, 0], sac_xy0[:, 1], sac_xy1[:, 0],
              sac_xy1[:, 1], sac_amp, sac_pv),
        blink=(t0 + blink_start, t0 + blink_end),
        rect=(left, top, w, h),
    )


# --------------------------------------------------------------------------- dataset


def _session_order(cfg: SimConfig, session: int) -> tuple[np.ndarray, float]:
    """The image order and the personal duration factor of one observer."""
    rng = np.random.default_rng((cfg.seed, _SESSION_STREAM, session))
    return rng.permutation(cfg.n_images), float(np.exp(rng.normal(0, 0.1)))


def image_id(cfg: SimConfig, i: int) -> str:
    """The id (file stem) of image ``i``: the seed is part of it, so splits never collide."""
    return f"sim{cfg.seed}_{i:04d}"


def simulate_dataset(
    out: str | Path,
    cfg: SimConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write a simulated dataset: images, masks, one ASC per session and the true fixations.

    Parameters
    ----------
    out : str or Path
        Output folder; ``images/``, ``masks/``, ``raw/``, ``truth.parquet`` and
        ``simulate.json`` are written inside it (existing files of the same names replaced).
    cfg : SimConfig
        Simulator parameters.
    progress : callable, optional
        ``progress(stage, done, total)`` called after each image and each session.

    Returns
    -------
    dict
        Summary: counts of images, sessions, fixations, samples, blinks, and the output paths.
    """
    import json

    import polars as pl
    from skimage.io import imsave

    out = Path(out)
    for sub in ("images", "masks", "raw"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    all_blobs: list[list[np.ndarray]] = []
    for i in range(cfg.n_images):
        rng = np.random.default_rng((cfg.seed, _IMAGE_STREAM, i))
        rgb, mask, blobs = make_image(rng, cfg.size, cfg.area_median)
        iid = image_id(cfg, i)
        imsave(out / "images" / f"{iid}.png", rgb, check_contrast=False)
        imsave(out / "masks" / f"{iid}.png", (mask * 255).astype(np.uint8), check_contrast=False)
        all_blobs.append(blobs)
        if progress:
            progress("images", i + 1, cfg.n_images)

    rows: list[pl.DataFrame] = []
    n_samples = n_blinks = 0
    for s in range(cfg.sessions):
        session = f"obs{s + 1:02d}"
        order, speed = _session_order(cfg, s)
        t = 1_000_000 + 7919 * s  # tracker clock at the session's first trial
        trials: list[AscTrial] = []
        for trial_no, i in enumerate(order, start=1):
            rng = np.random.default_rng((cfg.seed, _TRACK_STREAM, s, int(i)))
            xy, dur, phase = observer_track(rng, all_blobs[i], cfg, speed)
            trial = synthesize_trial(rng, xy, dur, cfg, t, image_id(cfg, i), trial_no)
            trials.append(trial)
            left, top, w, h = trial.rect
            rows.append(pl.DataFrame({
                "image": image_id(cfg, i),
                "session": session,
                "trial": str(trial_no),
                "index": np.arange(len(xy), dtype=np.int32),
                "x": xy[:, 0].astype(np.float32),
                "y": xy[:, 1].astype(np.float32),
                "onset_ms": (trial.fix[0] - t).astype(np.float64),
                "duration_ms": dur.astype(np.float32),
                "screen_x": (left + xy[:, 0] * w).astype(np.float32),
                "screen_y": (top + xy[:, 1] * h).astype(np.float32),
                "phase": np.array(["start", "search", "scan"])[phase],
                "width": np.full(len(xy), cfg.size, np.int32),
                "height": np.full(len(xy), cfg.size, np.int32),
            }))
            n_samples += len(trial.t)
            n_blinks += len(trial.blink[0])
            # Inter-trial interval: drift correction and image loading, not recorded.
            t = int(trial.t[-1]) + 1500 + int(rng.integers(0, 500))
        write_asc(out / "raw" / f"{session}.asc", trials, cfg, session=session)
        if progress:
            progress("sessions", s + 1, cfg.sessions)

    truth = pl.concat(rows).sort(["session", "image", "index"])
    truth.write_parquet(out / "truth.parquet", compression="zstd")
    params = {k: v for k, v in asdict(cfg).items() if k != "extra"} | {"rect": list(cfg.rect)}
    summary = {
        "images": cfg.n_images,
        "sessions": cfg.sessions,
        "fixations": truth.height,
        "samples": n_samples,
        "blinks": n_blinks,
    }
    (out / "simulate.json").write_text(json.dumps({"params": params, "summary": summary},
                                                  indent=2))
    return summary | {"out": str(out)}


# --------------------------------------------------------------------------- round trip


def compare_to_truth(truth, found, cfg: SimConfig) -> dict:
    """Match recovered fixations to the true ones and measure counts and position errors.

    Each true fixation is matched to the recovered fixation of the same (image, session)
    track whose time span contains the true fixation's midpoint (onsets from trial start).

    Parameters
    ----------
    truth : polars.DataFrame
        ``truth.parquet`` of a simulated dataset.
    found : polars.DataFrame
        ``fixations.parquet`` written by ``gazeprep ingest`` on the same dataset.
    cfg : SimConfig
        The simulator parameters (on-screen size and pixels per degree convert errors).

    Returns
    -------
    dict
        ``n_true``, ``n_found``, ``count_ratio`` (found / true), ``matched`` (share of true
        fixations with a match), ``median_err_deg``, ``p95_err_deg``, ``median_err_image``
        (fraction of the image side) and ``within`` (share of matched fixations within
        0.5 deg or 1 % of the image).
    """
    key = ["image", "session"]
    errs: list[np.ndarray] = []
    n_matched = 0
    found_by = {k: g for k, g in found.sort("onset_ms").group_by(key)}
    for k, g in truth.group_by(key):
        f = found_by.get(k)
        if f is None:
            continue
        mid = (g["onset_ms"] + g["duration_ms"] / 2).to_numpy()
        on = f["onset_ms"].to_numpy()
        end = on + f["duration_ms"].to_numpy()
        idx = np.searchsorted(on, mid, side="right") - 1
        ok = (idx >= 0) & (end[np.maximum(idx, 0)] >= mid)
        n_matched += int(ok.sum())
        dx = g["x"].to_numpy()[ok] - f["x"].to_numpy()[idx[ok]]
        dy = g["y"].to_numpy()[ok] - f["y"].to_numpy()[idx[ok]]
        errs.append(np.hypot(dx, dy))
    err = np.concatenate(errs) if errs else np.zeros(0)
    err_deg = err * cfg.display / cfg.px_per_deg
    n_true = truth.height
    return {
        "n_true": n_true,
        "n_found": found.height,
        "count_ratio": found.height / max(n_true, 1),
        "matched": n_matched / max(n_true, 1),
        "median_err_deg": float(np.median(err_deg)) if err.size else float("nan"),
        "p95_err_deg": float(np.percentile(err_deg, 95)) if err.size else float("nan"),
        "median_err_image": float(np.median(err)) if err.size else float("nan"),
        "within": float(np.mean((err_deg <= 0.5) | (err <= 0.01))) if err.size else 0.0,
    }
