"""Modules that are also the function of their name: ``gazeprep.ingest(...)``.

The public API (:mod:`gazeprep.api`, :mod:`gradseg.api`) names its functions after the
commands, and some commands' modules have those names (``gazeprep.ingest``,
``gazeprep.render``, ``gradseg.train``...). Python binds an imported submodule to its package's
attribute of the same name, so a plain function there would be replaced by the module the first
time anything imports it. Instead such a module becomes callable: calling it runs the API
function (imported then, so the module's own import stays as light as it was), while
``gazeprep.ingest.run_ingest`` and ``import gazeprep.ingest as m`` keep working. Setting a
module's ``__class__`` to a :class:`types.ModuleType` subclass is the documented way to
customise a module ("Customizing module attribute access" in Python's data model).

>>> import sys, types
>>> m = types.ModuleType("demo_entry")
>>> sys.modules["demo_entry"] = m
>>> make_callable("demo_entry", "os.path:join")
>>> m("a", "b")
'a/b'
"""

from __future__ import annotations

import importlib
import sys
import types


class EntryModule(types.ModuleType):
    """A module that, when called, runs the function its ``__entry__`` names
    (``"package.module:function"``)."""

    __entry__: str

    def __call__(self, *args, **kwargs):
        module, _, name = self.__entry__.partition(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)


def make_callable(module_name: str, entry: str) -> None:
    """Make the imported module ``module_name`` call ``entry`` (``"module:function"``)."""
    module = sys.modules[module_name]
    module.__entry__ = entry
    module.__class__ = EntryModule
