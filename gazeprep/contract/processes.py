"""Worker processes both packages start: whether a fork server can be used here.

A multiprocessing fork server listens on a Unix socket in a folder it makes under the temporary
folder (``TMPDIR``): ``<tmp>/pymp-XXXXXXXX/listener-XXXXXXXX``. Linux allows 107 bytes for
that path, so a temporary folder longer than 75 bytes (job schedulers on clusters make such
folders) made every command that starts workers fail with "AF_UNIX path too long". Where the
path does not fit, workers are started with ``spawn``: slower to start (each imports what it
needs), the same results.
"""

from __future__ import annotations

import os

#: Bytes a Unix socket path may hold on Linux (``sun_path``, 108, less its final NUL).
SOCKET_PATH_MAX = 107
#: What multiprocessing adds to the temporary folder: ``/pymp-`` + 8, ``/listener-`` + 8.
_ADDED = len("/pymp-12345678/listener-12345678")


def forkserver_usable() -> bool:
    """Whether this platform has a fork server and its socket path fits (see the module)."""
    import multiprocessing as mp
    import tempfile

    if "forkserver" not in mp.get_all_start_methods():
        return False
    return len(os.fsencode(tempfile.gettempdir())) + _ADDED <= SOCKET_PATH_MAX


__all__ = ["SOCKET_PATH_MAX", "forkserver_usable"]
