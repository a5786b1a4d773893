"""6. What other tools read: id splits (:mod:`~gazeprep.export.split`) and a cache exported as
nnU-Net v2 and MONAI training sets (:mod:`~gazeprep.export.layouts`).

Every output is written through :func:`gazeprep.outputs.transaction`: whole or not at all, and
never over a file these commands did not write unless ``--overwrite`` is given.

Calling this module, ``gazeprep.export(...)``, runs :func:`gazeprep.api.export` (the Python
API).
"""


from gazeprep.contract.entry import make_callable  # noqa: E402

make_callable(__name__, "gazeprep.api:export")
