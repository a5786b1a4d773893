"""The networks: :mod:`~gradseg.models.unet` (U-Net with Track Attention, every method's
backbone), :mod:`~gradseg.models.fusion` (FGI's text fusion and projection blocks) and
:mod:`~gradseg.models.fgi` (FGI's teacher, student and their pair)."""
