"""6. What other tools read: id splits (:mod:`~gazeprep.export.split`) and a cache exported as
nnU-Net v2 and MONAI training sets (:mod:`~gazeprep.export.layouts`).

Every output appears whole or not at all, and never over a file these commands did not write:
split's id files through :func:`gazeprep.outputs.transaction` (``--overwrite`` replaces id files
of its names), export's folder through one folder swap (:func:`gazeprep.export.owned.writing`;
it never replaces or deletes a file it did not write, ``--overwrite`` or not).

Calling this module, ``gazeprep.export(...)``, runs :func:`gazeprep.api.export` (the Python
API).
"""


from gazeprep.contract.entry import make_callable  # noqa: E402

make_callable(__name__, "gazeprep.api:export")
