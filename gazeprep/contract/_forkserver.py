"""Imported first by the workers' fork server (:func:`gazeprep.contract.workers.prestart` puts
it before the caller's preload modules), so that it holds during the server's slow imports:

- the server ignores Ctrl-C. A terminal sends SIGINT to the whole process group, and the
  command, the server's parent, handles it (it stops its workers and exits with 130); the
  server would otherwise print the traceback of whatever it was importing.
- the server dies with the command (:func:`gazeprep.contract.workers.die_with_parent`), and
  every worker it forks dies with the server from its first instruction (``os.register_at_fork``:
  before it unpickles anything, and whichever library started it, torch's DataLoader too): a
  command killed alone otherwise left them running.
- a worker forked just as the command released its pool finds the pool's semaphores gone and
  ends without the traceback Python would print (:func:`_quiet_when_released`): a Ctrl-C about
  when the workers start printed one, though the command itself says why it ends.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path

from gazeprep.contract.workers import die_with_parent


def _quiet_when_released(kind, exc, tb) -> None:
    """``sys.excepthook`` of the server and so of each worker it forks, which use it only for
    an error before the worker runs: silent for the pool's semaphores gone (a
    FileNotFoundError from multiprocessing's ``SemLock.__setstate__``), Python's own otherwise."""
    frames = traceback.extract_tb(tb)
    released = issubclass(kind, FileNotFoundError) and any(
        f.name == "__setstate__" and Path(f.filename).name == "synchronize.py" for f in frames)
    if not released:
        sys.__excepthook__(kind, exc, tb)

#: The server's pid: the parent its workers must find (one whose server has already ended
#: exits at once).
SERVER = os.getpid()

signal.signal(signal.SIGINT, signal.SIG_IGN)
die_with_parent()
os.register_at_fork(after_in_child=lambda: die_with_parent(SERVER))
sys.excepthook = _quiet_when_released
