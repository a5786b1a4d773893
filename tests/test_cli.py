"""Console-script behaviour shared by every command: help, exit codes, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "numba", "polars", "zarr", "pyarrow", "skimage", "numpy", "scipy", "PIL",
         "pydicom", "nibabel", "llvmlite", "zarrs")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("tool", ["gazeprep", "gradseg"])
def test_help_imports_no_heavy_library(tool: str) -> None:
    # --help must stay instant: no heavy library may be imported to print it.
    code = (
        f"import sys\nfrom {tool}.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = run("-c", code)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout


@pytest.mark.parametrize("argv", [
    ["gazeprep", "ingest"], ["gazeprep", "render"], ["gazeprep", "score"], ["gazeprep", "show"],
    ["gazeprep", "simulate"], ["gradseg", "train"], ["gradseg", "eval"], ["gradseg", "predict"],
])
def test_subcommand_help_imports_no_heavy_library(argv: list[str]) -> None:
    # Every sub-command's --help too: only the command-line library is loaded to print it.
    tool, *sub = argv
    code = (
        f"import sys\nfrom {tool}.cli import main\n"
        f"try:\n    main({[*sub, '--help']!r})\nexcept SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = run("-c", code)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout[-300:]


def test_unknown_command_is_usage_error() -> None:
    out = run("-m", "gazeprep.cli", "no-such-command")
    assert out.returncode == 2
    assert "no-such-command" in out.stderr


def test_failure_is_one_line_and_exit_1(tmp_path) -> None:
    missing = tmp_path / "does-not-exist"
    out = run("-m", "gazeprep.cli", "ingest", str(missing), "--out", str(tmp_path / "o"))
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert str(missing.name) in out.stderr


def test_verbose_shows_traceback(tmp_path) -> None:
    missing = tmp_path / "does-not-exist"
    out = run("-m", "gazeprep.cli", "ingest", str(missing), "--verbose")
    assert out.returncode == 1
    assert "Traceback" in out.stderr
