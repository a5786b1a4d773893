"""The simulated observer: where it looks (:func:`observer_track`: centre start, a short search,
centre-to-boundary scans of each target) and what the tracker records of it
(:func:`synthesize_trial`: 1000 Hz samples, saccades on the main sequence, blinks, and the
tracker's own events)."""

from __future__ import annotations

import numpy as np

from gazeprep.simulate.config import AscTrial, SimConfig


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

    pos, pupil = _recorded(rng, pos, missing, cfg)
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


def _recorded(rng: np.random.Generator, pos: np.ndarray, missing: np.ndarray,
              cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """What the tracker records of the planned gaze path ``pos`` (total, 2): drift, filtered
    noise, a pupil signal, missing samples (NaN, pupil 0), one decimal."""
    total = len(pos)
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
    return np.round(pos, 1), pupil
