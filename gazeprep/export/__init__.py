"""6. What other tools read: id splits (:mod:`~gazeprep.export.split`) and a cache exported as
nnU-Net v2 and MONAI training sets (:mod:`~gazeprep.export.layouts`).

Every output is written through :func:`gazeprep.outputs.transaction`: whole or not at all, and
never over a file these commands did not write unless ``--overwrite`` is given.
"""
