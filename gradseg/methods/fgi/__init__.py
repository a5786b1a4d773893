"""FGI ("From Gaze to Insight", arXiv 2504.11368): ``--method fgi`` and ``gradtrack+fgi``.

One concept per module:

- :mod:`~gradseg.methods.fgi.config`: :class:`FGIConfig`, every weight and threshold with FGI's
  default.
- :mod:`~gradseg.methods.fgi.masks`: the strict and loose pseudo-masks from the cache fields.
- :mod:`~gradseg.methods.fgi.darm`: DARM, masking blocks of the strict/loose disagreement
  (vectorised).
- :mod:`~gradseg.methods.fgi.mixing`: input noise and CutMix.
- :mod:`~gradseg.methods.fgi.losses`: supervised BCE, confidence-filtered cross supervision,
  feature distillation, the ramp-up.
- :mod:`~gradseg.methods.fgi.step`: one training step's loss, and inference.
- :mod:`~gradseg.methods.fgi.method`: the two methods as the trainer sees them.

The networks are in :mod:`gradseg.models.fgi` and :mod:`gradseg.models.fusion`, the text cues
in :mod:`gradseg.data.text`. ``README.md`` beside this file holds the recipe and its deviations
from the authors' code.
"""
