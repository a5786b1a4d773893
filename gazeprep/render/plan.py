"""What to render: every image with its gaze tracks and mask, matched by id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeprep.contract.images import ImageOptions, ImageRef
from gazeprep.errors import GazeprepError
from gazeprep.tracks import Track


@dataclass
class Sample:
    """Everything needed to render one image.

    Parameters
    ----------
    id : str
        Image id (see :func:`gazeprep.contract.images.index_folder`).
    image : ImageRef
        Where the image's pixels are (file, and frame or slice).
    mask : ImageRef or None
        Where the ground-truth mask is, None when absent.
    tracks : list of Track
        One per session (empty list: no fixations).
    """

    id: str
    image: ImageRef
    mask: ImageRef | None
    tracks: list[Track] = field(default_factory=list)

    @property
    def image_path(self) -> Path:
        """The image file."""
        return self.image.path

    @property
    def mask_path(self) -> Path | None:
        """The mask file, None when absent."""
        return None if self.mask is None else self.mask.path

    def key(self, params_digest: str) -> str:
        """Render key: changes whenever this sample's output could change."""
        from gazeprep.render.images import file_identity

        h = hashlib.sha256()
        h.update(params_digest.encode())
        h.update(f"{file_identity(self.image_path)}#{self.image.index}".encode())
        mask_index = "" if self.mask is None else f"#{self.mask.index}"
        h.update(f"|{file_identity(self.mask_path)}{mask_index}".encode())
        for t in self.tracks:
            for a in (t.x, t.y, t.duration_ms):
                h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
            h.update(b"/")
        return h.hexdigest()[:24]

    @property
    def n_fixations(self) -> int:
        """Fixations over all sessions."""
        return int(sum(len(t.x) for t in self.tracks))


@dataclass
class RenderPlan:
    """The samples to render and what was left out (never silently).

    Parameters
    ----------
    samples : list of Sample
        Sorted by id.
    gaze_without_image : list of str
        Ids with gaze tracks but no image file.
    ingest : dict
        Identity of the ingest output (content hashes).
    """

    samples: list[Sample]
    gaze_without_image: list[str]
    ingest: dict
    with_masks: bool
    #: One line per leftover of an interrupted ingest that reading the tracks recovered.
    notes: list[str] = field(default_factory=list)
    #: Tracks left out because gaze quality flagged them (``--exclude-flagged``).
    left_out: int = 0


def plan_render(
    gaze_dir: str | Path,
    images_dir: str | Path,
    masks_dir: str | Path | None = None,
    options: ImageOptions | None = None,
    exclude_flagged: bool = False,
) -> RenderPlan:
    """Match gaze tracks, images and masks by id.

    Every image in ``images_dir`` becomes a sample (without gaze: empty maps, listed as empty);
    gaze on an id with no image file is listed in ``gaze_without_image``. ``options`` (the
    render parameters' ``image``) say how volumes are sliced into ids. A mask volume whose slice
    count differs from its image volume's is an error naming both files.

    ``exclude_flagged``: leave out every track whose trial gaze quality flagged for the track's
    eye (:func:`gazeprep.quality.table.flagged_tracks`); how many is ``left_out``, and the
    ingest identity the cache records says so (``exclude_flagged``, ``tracks_left_out``), so
    that a render with and one without the option never pass for each other.
    """
    from gazeprep.contract.images import check_pair
    from gazeprep.render.images import index_folder
    from gazeprep.tracks import read_tracks

    notes: list[str] = []
    exclude = _flagged(Path(gaze_dir), notes) if exclude_flagged else None
    tracks, identity = read_tracks(gaze_dir, notes, exclude=exclude)
    if exclude_flagged:
        identity["exclude_flagged"] = True
    images = index_folder(images_dir, options)
    if not images:
        raise GazeprepError("no images (.png/.jpg/.jpeg/.bmp/.tif/.dcm/.nii/.nii.gz/.nrrd) in "
                            "this folder", file=images_dir)
    masks = index_folder(masks_dir, options) if masks_dir is not None else {}
    samples = [
        Sample(i, images[i], masks.get(i), tracks.get(i, [])) for i in sorted(images)
    ]
    for smp in samples:
        if smp.mask is not None:
            check_pair(smp.image, smp.mask)
    orphans = sorted(set(tracks) - set(images))
    return RenderPlan(samples, orphans, identity, masks_dir is not None, notes,
                      identity.get("tracks_left_out", 0))


def _flagged(gaze_dir: Path, notes: list[str]) -> set[tuple[str, str | None]]:
    """The ``(session, trial)`` of the flagged tracks of an ingest output (leftovers of an
    interrupted ingest recovered first, so that all files read are of one run)."""
    import polars as pl

    from gazeprep.outputs import recover
    from gazeprep.quality.table import flagged_tracks, read_quality
    from gazeprep.tracks import owned

    if gaze_dir.is_dir():
        note = recover(gaze_dir, owned)
        if note:
            notes.append(note)
    quality, _ = read_quality(gaze_dir)
    path = gaze_dir / "fixations.parquet"
    try:
        fix = pl.read_parquet(path, columns=["session", "trial", "eye"])
    except Exception as exc:  # noqa: BLE001 - missing file, other columns, not Parquet
        raise GazeprepError(f"--exclude-flagged needs the fixations.parquet of gazeprep ingest "
                            f"(the eye of each track): {type(exc).__name__}", file=path) from exc
    return flagged_tracks(quality, fix)
