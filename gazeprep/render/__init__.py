"""Stage 4: gaze tracks -> multi-level track maps, heatmaps, pseudo-masks, in the render cache.

- :mod:`~gazeprep.render.params`: :class:`~gazeprep.render.params.RenderParams`, every
  parameter (recorded in the cache);
- :mod:`~gazeprep.render.plan`: which images, masks and tracks go together;
- :mod:`~gazeprep.render.maps` (kernels in :mod:`~gazeprep.render._kernels`),
  :mod:`~gazeprep.render.heatmap`, :mod:`~gazeprep.render.pseudo`: the arrays of one batch;
- :mod:`~gazeprep.render.images`: image and mask files -> the cache's pixels (the rule itself
  is the contract's, :mod:`gazeprep.contract.images`);
- :mod:`~gazeprep.render.writer`: rendering batches into the cache, incrementally;
  :mod:`~gazeprep.render.store`: how it is stored without losing anything.

Calling this module, ``gazeprep.render(...)``, runs :func:`gazeprep.api.render` (the Python
API).
"""


from gazeprep.contract.entry import make_callable  # noqa: E402

make_callable(__name__, "gazeprep.api:render")
