"""The registry of recording writers ``gazeprep simulate --tracker`` chooses from.

Every writer writes the same simulated session (its trials: samples and the tracker's own
events, :class:`~gazeprep.simulate.config.AscTrial`) in one tracker's export format, so that
``gazeprep ingest`` gives the same fixation table from each (within the format's precision):

- ``eyelink``: an EyeLink ASC file, ``raw/<session>.asc`` (:mod:`.asc_writer`);
- ``tobii``: a Tobii Pro Lab data export, ``raw/<session>.tsv`` (:mod:`.tobii_writer`);
- ``smi``: an SMI BeGaze event export, ``raw/<session>.txt`` (:mod:`.smi_writer`);
- ``gazepoint``: a Gazepoint GP3 CSV, ``raw/<session>.csv`` (:mod:`.gazepoint_writer`);
- ``pupil``: a Pupil Player surface export, ``raw/<session>/exports/000/...``
  (:mod:`.pupil_writer`).

The ASC file, the Pro Lab export (its media columns) and the Pupil surfaces place the image
themselves; the SMI and Gazepoint files
are in screen coordinates, so their ingest needs ``--image-rect`` (:func:`ingest_hint`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gazeprep.simulate import pupil_writer
from gazeprep.simulate.asc_writer import write_asc
from gazeprep.simulate.config import AscTrial, SimConfig
from gazeprep.simulate.gazepoint_writer import write_gazepoint
from gazeprep.simulate.smi_writer import write_smi
from gazeprep.simulate.tobii_writer import write_tobii


@dataclass(frozen=True)
class Writer:
    """One ``--tracker``: the files a session becomes and how to write them.

    Attributes
    ----------
    files : callable
        ``files(session, image_ids) -> names`` relative to the output folder.
    write : callable
        ``write(out, trials, cfg, session)``: writes the session's files under ``out``.
    places_image : bool
        Whether the files say where the image was on screen (else ``--image-rect``).
    """

    files: Callable[[str, list[str]], list[str]]
    write: Callable[[Path, list[AscTrial], SimConfig, str], int]
    places_image: bool


def _one_file(suffix: str, fn: Callable, places_image: bool = False) -> Writer:
    return Writer(files=lambda s, ids: [f"raw/{s}{suffix}"],
                  write=lambda out, trials, cfg, s: fn(out / "raw" / f"{s}{suffix}", trials,
                                                       cfg, s),
                  places_image=places_image)


#: ``--tracker`` name -> writer.
WRITERS: dict[str, Writer] = {
    "eyelink": _one_file(".asc", write_asc, places_image=True),
    "tobii": _one_file(".tsv", write_tobii, places_image=True),
    "smi": _one_file(".txt", write_smi),
    "pupil": Writer(
        files=lambda s, ids: [f"raw/{n}" for n in pupil_writer.names(s, ids)],
        write=lambda out, trials, cfg, s: pupil_writer.write_pupil(out / "raw", trials, cfg, s),
        places_image=True),
    "gazepoint": _one_file(".csv", write_gazepoint),
}
TRACKERS = tuple(WRITERS)


def ingest_hint(cfg: SimConfig) -> list[str]:
    """The ``gazeprep ingest`` options a simulated dataset of ``cfg.tracker`` needs."""
    if WRITERS[cfg.tracker].places_image:
        return []
    x, y, w, h = cfg.rect
    return ["--image-rect", f"{x:g}", f"{y:g}", f"{w:g}", f"{h:g}"]
