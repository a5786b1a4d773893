"""The contract between gazeprep and gradseg: how an input file becomes the pixels a model sees.

gazeprep renders the training cache from image and mask files; gradseg predicts on and
evaluates against new files. Both must turn a file into exactly the same pixels, so the rule
lives here, once, and both packages import it:

- :mod:`gazeprep.contract.images`: the image and mask folders (ids, formats, slicing of
  volumes), the 8-bit window rule and the decoding and resizing of images and masks.
- :mod:`gazeprep.contract.errors`: :class:`~gazeprep.contract.errors.InputError`, the one-line
  error for a bad input file.

The cache format is the other half: :mod:`gazeprep.contract.cache` (array names, shapes,
dtypes, format version, storage scale, the staging folder, and ``validate``) and
:mod:`gazeprep.contract.zarr_io` (the codecs, and reading rows with their checksums).
:mod:`gazeprep.contract.metrics` (Dice, IoU, HD95), :mod:`gazeprep.contract.spacing` and
:mod:`gazeprep.contract.ids` are what both sides measure and select with.

What a user sees is the third: both console scripts write files the same way
(:mod:`gazeprep.contract.files`: atomic, never over a file they did not write), report
progress the same way (:mod:`gazeprep.contract.progress`) and share their command
conventions (:mod:`gazeprep.contract.command`).

This package imports nothing from the rest of gazeprep or from gradseg, and its third-party
imports (numpy, PIL, rich and, for radiology files, pydicom, nibabel, pynrrd; typer for the
command conventions) happen inside
functions, so either side can change its internals without the other noticing.
"""
