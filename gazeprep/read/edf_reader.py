"""The ``edf`` reader of the registry: EyeLink EDF files, read as the ASC text ``edf2asc`` writes.

The EDF is turned into that text (:func:`gazeprep.read.edf_asc.edf_to_asc`, SR Research's
library in a child process), then read by the ASC reader from those bytes: samples, events,
messages, trials, image placement, detectors and gaze quality all go through the ASC code. The
results carry the ``.edf`` name and format ``edf``; line numbers (drops, errors, anomalies) are
those of the ``edf2asc`` text, which SR Research's ``edf2asc`` reproduces line for line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gazeprep.read.options import IngestOptions
    from gazeprep.read.probe import Probe
    from gazeprep.read.result import FileResult, Recording

#: What every ``.edf`` result notes about its line numbers.
LINES_NOTE = "line numbers are those of the edf2asc text of the EDF"


def sniff(probe: Probe) -> bool:
    """Whether the file is an EDF: a ``.edf`` name or SR Research's ``SR_RESEARCH`` magic."""
    return probe.path.suffix.lower() == ".edf" or probe.head.startswith(b"SR_RESEARCH")


def read(path: str, opts: IngestOptions) -> FileResult | Recording:
    """Read one EDF: its ``edf2asc`` text through the ASC reader (see
    :func:`gazeprep.read.asc.read` for what comes back).

    Raises
    ------
    GazeprepError
        eyelinkio missing (the install hint), a file the library refuses, crashes on or does
        not finish within its time limit, then whatever the ASC reader raises.
    """
    from gazeprep.read.asc import read as read_asc
    from gazeprep.read.edf_asc import edf_to_asc
    from gazeprep.read.result import FileResult

    got = read_asc(str(path), opts, data=edf_to_asc(path))
    res = got if isinstance(got, FileResult) else got.result
    res.format = "edf"
    res.notes["lines"] = LINES_NOTE
    return got
