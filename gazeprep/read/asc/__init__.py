"""EyeLink ASC reader (``edf2asc`` output): samples, events, messages, trials and image placement.

The reader in four modules: :mod:`~gazeprep.read.asc.parse` (the file, as a path or as bytes,
-> :class:`~gazeprep.read.asc.parse.AscLog`; numba kernels in
:mod:`~gazeprep.read.asc._kernels`, bulk parsing in :mod:`~gazeprep.read.asc.events`, the
state machine in :mod:`~gazeprep.read.asc.state`) and :mod:`~gazeprep.read.asc.place`
(fixations -> image coordinates). With the tracker's events (``--detector tracker``, or
``auto`` on a file with EFIX lines) :func:`read` returns the file's
:class:`~gazeprep.read.result.FileResult`; with ``ivt`` / ``idt`` it returns an
:class:`~gazeprep.read.asc.place.AscRecording` whose samples ingest hands to the detector.

What is understood:

- samples, monocular or binocular, ``.`` for missing values, float timestamps (2 kHz), extra
  velocity/resolution/INPUT columns and the trailing flag field (ignored);
- ``START``/``END`` recording blocks with their ``SAMPLES`` line (eyes, rate); samples after an
  ``END`` are kept with the block before them and reported as an anomaly;
- ``SFIX/EFIX``, ``SSACC/ESACC`` (``.`` positions, exponent amplitudes), ``SBLINK/EBLINK``;
  unterminated events are anomalies;
- ``MSG`` lines (with an optional integer time offset): ``TRIALID``, ``TRIAL_RESULT`` (nested
  TRIALIDs and out-of-order timestamps are anomalies), ``GAZE_COORDS`` / ``DISPLAY_COORDS``,
  ``!V IMGLOAD FILL|CENTER|TOP_LEFT file [x y [w h]]``, ``!V TRIAL_VAR name value``,
  ``eye_used`` messages, ``!CAL VALIDATION`` results (for gaze quality, with the samples,
  blocks, blinks and trial windows: :mod:`~gazeprep.read.asc.windows`).

Image ids are file stems only (see :func:`gazeprep.read.result.image_id`); no name from a log
is ever opened as a path.

Numbers (limits in :mod:`gazeprep.limits`): an EFIX whose x or y is ``.`` or not finite is
dropped as ``no_position``. Everything else that is not a usable number is a malformed line, an
error naming file and line (``--lenient``: recorded, the line skipped): a sample whose time is
``.``, not finite, beyond 2**53 ms or too coarse in float64 for the sampling interval (half of
it must be resolvable), or whose x, y is beyond +-1e6 px or pupil infinite; an event or MSG time
that is not finite or beyond 2**53 ms; an EFIX duration outside 0..1 day; a ``RATE`` outside
(0, 1e6] Hz; a ``GAZE_COORDS`` / ``IMGLOAD`` rectangle that is not finite or has a side <= 0 or
over 1,000,000 px (the fixations on such an image are then dropped as ``unknown_image_rect``,
never placed). Numbers are parsed exactly like ``float()`` up to 15 significant digits; longer
digit strings and any exponent stay within an ulp or two (overflow gives inf, then the error).

Which trial/image a fixation belongs to: the state at its line (file order). A fixation inside a
recording block before the block's first ``TRIALID`` belongs to that trial; one in a trial before
its first ``IMGLOAD`` to that first image. Without ``IMGLOAD`` the image is ``--image-rect`` or
the whole screen (``GAZE_COORDS``), its id the ``!V TRIAL_VAR`` ``image`` value, else the
``TRIALID`` text, else the file stem. ``onset_ms`` counts from the ``TRIALID`` message (else the
block's ``START``); fixations begun before it have a negative onset.

A track is one ``(image, session, trial)``: the ``trial`` value is the ``TRIALID`` text (made
unique in the file: a text used n > 1 times becomes ``<text>#1`` ... ``<text>#n``); outside any
``TRIALID`` it is ``block <k>`` when the file has several recording blocks, else null. So the
same image shown in two trials gives two tracks, each with its own onsets.

Image names are read as UTF-8; a message that is not valid UTF-8 is decoded as Latin-1 (byte
``0xe9`` is ``é``), and the image is listed with that problem in ``ingest.json``. Pixel size
(``width``, ``height``): the ``--images`` file; when ``--images`` is given but lacks the image,
null (listed as ``not in --images``); without ``--images``, the size the image was shown at: the
``IMGLOAD`` width/height, else ``--image-rect``, else the screen (FILL or no ``IMGLOAD``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gazeprep.errors import GazeprepError

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe
    from gazeprep.read.result import FileResult, Recording

#: Lines that only an ASC file starts with (within its first 200 lines).
ASC_LINE_HEADS = ("MSG\t", "MSG ", "START\t", "EFIX ")


def sniff(probe: Probe) -> bool:
    """Whether the file is an ASC: its extension, a ``**`` header, or ASC lines near the top.

    Raises
    ------
    GazeprepError
        A ``.asc`` file with binary content.
    """
    if probe.path.suffix.lower() == ".asc":
        if b"\x00" in probe.head:
            raise GazeprepError("binary file; expected a text EyeLink ASC", file=probe.path,
                                line=1)
        return True
    text = probe.text
    return probe.first_line.startswith("**") or any(
        ln.startswith(ASC_LINE_HEADS) for ln in text.splitlines()[:200])


def read(path: str, opts: IngestOptions, data: bytes | None = None) -> FileResult | Recording:
    """Read one ASC file (``data``: its bytes, when they do not come from ``path``).

    Parameters
    ----------
    path : str
        The ASC file (with ``data``: the name the results carry).
    opts : IngestOptions
        ``detector``, ``eye``, ``image_rect``, ``images``, ``min_duration``, ``lenient``.
    data : bytes, optional
        The file's content, e.g. ASC text converted from an EDF file.

    Returns
    -------
    FileResult
        With the tracker's events (``detector`` ``tracker``, or ``auto`` and EFIX lines).
    AscRecording
        Otherwise: the samples, for I-VT / I-DT; its ``place`` gives the FileResult.

    Raises
    ------
    GazeprepError
        See :func:`~gazeprep.read.asc.parse.parse_asc`; ``--detector tracker`` on a file
        without EFIX events.
    """
    import numpy as np

    from gazeprep.read.asc.parse import parse_asc
    from gazeprep.read.asc.place import AscRecording, place_events
    from gazeprep.read.asc.windows import recording_facts
    from gazeprep.read.result import FileResult

    res = FileResult(path=str(path), format="asc")
    log = parse_asc(path, data, res=res, lenient=opts.lenient)
    res.n_samples = int(np.isfinite(log.t).sum())
    res.quality_input = recording_facts(log)
    detector = opts.detector
    if detector == "auto":
        detector = "tracker" if log.efix["line"].size else "ivt"
    res.notes["detector"] = detector
    if detector != "tracker":
        return AscRecording(log, opts, res, detector)
    if not log.efix["line"].size:
        raise GazeprepError("no EFIX events in the file; expected tracker fixation events "
                            "(or use --detector ivt|idt on the samples)", file=path)
    return place_events(log, opts, res)
