"""Imported first by the workers' fork server (:func:`gazeprep.jobs.prestart` puts it before
the caller's preload modules), so that it holds during the server's slow imports:

- the server ignores Ctrl-C. A terminal sends SIGINT to the whole process group, and the
  command, the server's parent, handles it (it stops its workers and exits with 130); the
  server would otherwise print the traceback of whatever it was importing.
- the server dies with the command (:func:`gazeprep.jobs.die_with_parent`), and its workers
  with it: a command killed alone otherwise left them running.
"""

from __future__ import annotations

import os
import signal

from gazeprep.jobs import die_with_parent

#: The server's pid: the parent its workers must find (one whose server has already ended
#: exits at once).
SERVER = os.getpid()

signal.signal(signal.SIGINT, signal.SIG_IGN)
die_with_parent()
