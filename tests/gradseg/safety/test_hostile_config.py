"""Hostile ``gradseg train --config`` files: aliases that expand, files that never end,
nesting that never ends. Each ends with one line and exit code 1, the file untouched.

The commands run in a subprocess under ``RLIMIT_AS`` = 2 GiB: ``gradseg train --config``
reads its settings file before it imports torch, and needs between 0.5 and 1 GiB of address
space to get there (measured: the refusal below is reached under a 1 GiB limit; under 0.5 GiB
OpenBLAS cannot start), so 2 GiB, the limit of a scheduler's 2 GiB job, leaves room to spare.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

LIMIT_AS = 2 << 30


def train_limited(config: Path) -> subprocess.CompletedProcess:
    """``gradseg train --config config`` in a subprocess whose address space is 2 GiB."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))

    return subprocess.run([sys.executable, "-m", "gradseg.cli", "train", "--config", str(config),
                           "--out", str(config.parent / "run")], capture_output=True, text=True,
                          timeout=300, preexec_fn=cap, env={**os.environ, "OMP_NUM_THREADS": "1"})


def billion_laughs(levels: int = 10) -> str:
    """A 1 KB YAML table whose ``thresholds`` hold 9**levels numbers through nested aliases
    (a list of lists: the message that names the wrong value used to spell them all out)."""
    lines = ["thresholds:", "  - &a0 [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]"]
    for k in range(1, levels):
        lines.append(f"  - &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_aliases_are_refused_in_2_gib(tmp_path, untouched, error_line):
    pytest.importorskip("yaml")
    cfg = tmp_path / "laughs.yaml"
    cfg.write_text(billion_laughs())
    check = untouched(tmp_path)
    res = train_limited(cfg)
    assert res.returncode == 1, res.stderr
    line = error_line(res.stderr)
    assert "laughs.yaml" in line and "line 3" in line and "aliases (*name) are not allowed" in line
    check()


def test_a_settings_file_that_never_ends_is_refused(tmp_path, untouched, error_line):
    """A link to /dev/zero named like a settings file: read up to the cap, then refused."""
    cfg = tmp_path / "zero.yaml"
    cfg.symlink_to("/dev/zero")
    big = tmp_path / "big.toml"
    big.write_text("# a comment\n" * 100_000)
    check = untouched(tmp_path)
    for path in (cfg, big):
        res = train_limited(path)
        assert res.returncode == 1, res.stderr
        assert error_line(res.stderr).endswith(f"{path}: larger than 1024 KiB; expected a "
                                               f"settings file of a few lines")
    check()


@pytest.mark.parametrize(("name", "text"), [("deep.json", "[" * 200_000),
                                            ("deep.yaml", "[" * 200_000),
                                            ("deep.toml", "x = " + "[" * 200_000)])
def test_nesting_that_never_ends_is_one_line(tmp_path, gradseg_cli, error_line, name, text):
    pytest.importorskip("yaml")
    cfg = tmp_path / name
    cfg.write_text(text)
    code, _, err = gradseg_cli("train", "--config", cfg, "--out", tmp_path / "run")
    assert code == 1, err
    assert name in error_line(err)
