"""What the trainer reads: :mod:`~gradseg.data.cache` (the gazeprep cache as a torch Dataset),
:mod:`~gradseg.data.augment` (one random affine per sample, on every field),
:mod:`~gradseg.data.sampler` (the seeded, resumable sample order), :mod:`~gradseg.data.split`
(train / validation / held-out ids) and :mod:`~gradseg.data.text` (FGI's text cues)."""
