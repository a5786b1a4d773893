"""FGI ("From Gaze to Insight", arXiv 2504.11368) as building blocks of the gradseg trainer.

One concept per module, none importing :mod:`gradseg.train`:

- :mod:`~gradseg.fgi.config`: :class:`FGIConfig`, every weight and threshold with FGI's default.
- :mod:`~gradseg.fgi.masks`: the strict and loose pseudo-masks from the cache fields.
- :mod:`~gradseg.fgi.darm`: DARM, masking blocks of the strict/loose disagreement (vectorised).
- :mod:`~gradseg.fgi.mixing`: input noise and CutMix.
- :mod:`~gradseg.fgi.losses`: supervised BCE, confidence-filtered cross supervision, feature
  distillation, the ramp-up.
- :mod:`~gradseg.fgi.fusion`: text fusion (cross-attention at any input size) and the
  projection block.
- :mod:`~gradseg.fgi.networks`: teacher, student and their pair (one checkpointable module).
- :mod:`~gradseg.fgi.text`: per-image token embeddings from Parquet or ``<id>.npy`` files.
- :mod:`~gradseg.fgi.step`: one training step's loss, and inference.

See ``gradseg/fgi/README.md`` for the recipe, its deviations from the authors' code and how to
make a text-cue file.
"""

from gradseg.fgi.config import FGI_METHODS, FGIConfig

__all__ = ["FGI_METHODS", "FGIConfig"]
