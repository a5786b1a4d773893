"""FGI's settings: :class:`~gradseg.settings.fgi.FGIConfig` lives in :mod:`gradseg.settings.fgi`
(torch-free, so the command line reads its defaults); this name is kept for the method's
modules."""

from gradseg.settings.fgi import (  # noqa: F401
    DARM_FILLS,
    FGI_METHODS,
    INFER,
    NORMS,
    RUN_KEYS,
    SECTION,
    SOURCES,
    SUP_LOSSES,
    FGIConfig,
)
