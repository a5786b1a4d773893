"""Stage 5: looking at a render cache: :mod:`~gazeprep.inspect.score` (Dice and IoU against the
ground truth), :mod:`~gazeprep.inspect.show` (one picture per image), both on a cache opened
and checked by :func:`gazeprep.inspect.load.load_cache`."""
