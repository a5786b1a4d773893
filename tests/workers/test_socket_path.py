"""Whether worker processes can come from a fork server: not when the temporary folder's path
leaves no room for the server's Unix socket (107 bytes on Linux)."""

from __future__ import annotations

import multiprocessing as mp
import sys

import pytest

from gazeprep.contract.workers import forkserver_usable

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork server, Linux")


@linux
def test_a_long_temporary_folder_rules_out_the_fork_server(tmp_path, monkeypatch):
    import tempfile

    assert "forkserver" in mp.get_all_start_methods()
    fits = tmp_path / ("a" * (75 - len(str(tmp_path)) - 1))  # 75 bytes: the longest that fits
    longer = tmp_path / ("a" * (76 - len(str(tmp_path)) - 1))
    for folder, usable in ((fits, True), (longer, False)):
        folder.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(folder))
        assert len(str(folder)) in (75, 76) and forkserver_usable() is usable


@linux
def test_the_socket_path_of_a_fork_server_that_fits_is_accepted(tmp_path):
    # the real thing, in a new process: a fork server under a 75-byte temporary folder starts
    import os
    import subprocess

    folder = tmp_path / ("a" * (75 - len(str(tmp_path)) - 1))
    folder.mkdir()
    code = ("import multiprocessing as mp; from gazeprep.contract.workers import "
            "forkserver_usable; assert forkserver_usable(); "
            "print(mp.get_context('forkserver').Pool(1).apply(abs, (-3,)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "TMPDIR": str(folder)}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"
