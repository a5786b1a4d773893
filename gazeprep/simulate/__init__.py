"""Simulated gaze datasets with known truth: lesion-like images, masks and EyeLink recordings.

The simulated observer follows the GazeMedSeg annotation protocol: a short search over the
image, then a thorough scan of each target from its centre outwards to its boundary. Fixation
durations are log-normal (median about 300 ms), saccades follow the main sequence with a
minimum-jerk velocity profile, samples are 1000 Hz with tracker noise, fixational drift and
occasional blinks (missing samples), and the tracker's own events (EFIX/ESACC/EBLINK) are
written with EyeLink's conventions by :mod:`gazeprep.simulate.asc_writer`.

Everything is deterministic for a seed: each image and each (session, image) trial draws from
its own ``numpy.random.Generator`` seeded by ``(seed, kind, index...)``, so a dataset with more
images starts with the same images as a smaller one.

Modules: :mod:`~gazeprep.simulate.config` (:class:`~gazeprep.simulate.config.SimConfig`, the
recorded trial :class:`~gazeprep.simulate.config.AscTrial`), :mod:`~gazeprep.simulate.scene`
(images and masks), :mod:`~gazeprep.simulate.observer` (fixations, then samples and tracker
events), :mod:`~gazeprep.simulate.asc_writer` (the ASC file) and
:mod:`~gazeprep.simulate.dataset` (a whole dataset on disk, and how ingest's fixations compare
with the truth).

Calling this module, ``gazeprep.simulate(...)``, runs :func:`gazeprep.api.simulate` (the Python
API).
"""


from gazeprep.contract.entry import make_callable  # noqa: E402

make_callable(__name__, "gazeprep.api:simulate")
