"""The console scripts' entry points: Ctrl-C while a command's modules load ends it as quietly
as later (one line, exit status 130), not with a traceback from the middle of an import.

The entry point is this small module, which imports the command's module inside a ``try``:
``gazeprep.cli`` and ``gradseg.cli`` load typer, rich and the commands (about 0.1 s) before
their own ``main`` can catch anything.
"""

from __future__ import annotations

import importlib
import sys


def launch(module: str, prog: str) -> None:
    """Import ``module`` and run its ``main``; Ctrl-C during the import exits with 130."""
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    main()


def gazeprep() -> None:
    """The ``gazeprep`` console script."""
    launch("gazeprep.cli", "gazeprep")
