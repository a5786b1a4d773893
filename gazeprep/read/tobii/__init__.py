"""Readers of Tobii exports, one module per dialect, registered by name in
:func:`gazeprep.read.readers`:

- ``tobii-prolab``: Tobii Pro Lab "Data export" TSV (:mod:`~gazeprep.read.tobii.prolab`);
- ``tobii-studio``: Tobii Studio 3.x TSV and the older split exports with a ``Key: value``
  block (``*-All-Data.tsv``, ``*-Fixation-Data.tsv``, ``*-Event-Data.tsv``;
  :mod:`~gazeprep.read.tobii.studio`);
- ``tobii-sdk``: sample dumps of the Tobii Pro SDK / Titta (:mod:`~gazeprep.read.tobii.sdk`).

Each turns its file into one frame of gaze samples and ends in
:func:`gazeprep.read.tobii._common.finish`: Tobii's own fixations when the export has them,
else the samples for I-VT / I-DT (``--preset tobii`` for Tobii's I-VT filter), placed on the
media shown. Numbers: :mod:`gazeprep.read.tobii._numbers`.
"""
