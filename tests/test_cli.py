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
    ["gradseg", "refine"],
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


# --- --help and choices ---------------------------------------------------------------------

def _commands(tool: str) -> list[str]:
    import importlib

    import typer

    app = importlib.import_module(f"{tool}.cli").app
    return sorted(typer.main.get_command(app).commands)


def _invoke(tool: str, *args: str):
    import importlib

    from typer.testing import CliRunner

    app = importlib.import_module(f"{tool}.cli").app
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.mark.parametrize("tool", ["gazeprep", "gradseg"])
def test_every_command_lists_verbose_and_no_bool_metavar(tool: str) -> None:
    commands = _commands(tool)
    assert len(commands) >= 3
    for cmd in [None, *commands]:
        res = _invoke(tool, *([cmd] if cmd else []), "--help")
        assert res.exit_code == 0, (cmd, res.output)
        assert "--verbose" in res.output, cmd
        assert "<bool>" not in res.output, cmd


@pytest.mark.parametrize(("tool", "args", "option", "choices"), [
    ("gazeprep", ["ingest", "x", "--format", "xml"], "--format",
     ["auto", "asc", "fixreport", "samples"]),
    ("gazeprep", ["ingest", "x", "--detector", "ivx"], "--detector", ["tracker", "ivt", "idt"]),
    ("gazeprep", ["render", "--refine", "snake"], "--refine", ["none", "fill", "watershed"]),
    ("gradseg", ["train", "--cache", "x", "--method", "unet"], "--method",
     ["gradtrack", "gazesup", "full", "fgi"]),
    ("gradseg", ["train", "--cache", "x", "--device", "gpu"], "--device",
     ["auto", "cpu", "cuda", "cuda:N"]),
    ("gradseg", ["eval", "--checkpoint", "x", "--device", "cuda:x"], "--device", ["cuda:N"]),
])
def test_bad_choice_is_usage_error_naming_the_choices(tool, args, option, choices) -> None:
    out = run("-m", f"{tool}.cli", *args)
    assert out.returncode == 2, out.stderr
    text = " ".join(out.stderr.replace("│", " ").split())
    assert option in text
    for c in choices:
        assert c in text, (c, text)


def test_choices_follow_the_registries() -> None:
    import typing

    from gazeprep.commands import ingest, render
    from gazeprep.read import options as o
    from gazeprep.render import params as rp
    from gradseg import cli
    from gradseg.config import VAL_TARGETS
    from gradseg.methods.gradtrack import MAP_ORDERS

    assert typing.get_args(ingest.Format) == o.FORMAT_CHOICES
    assert typing.get_args(ingest.Detector) == o.DETECTOR_CHOICES
    assert typing.get_args(render.Refine) == rp.REFINES
    assert typing.get_args(cli.MapOrder) == MAP_ORDERS
    assert typing.get_args(cli.ValTarget) == VAL_TARGETS


def test_verbose_after_the_command_is_accepted_by_the_app(tmp_path) -> None:
    # Through the app itself (as CliRunner or click integrations call it), not only main().
    res = _invoke("gazeprep", "ingest", str(tmp_path / "missing"), "--verbose")
    assert res.exit_code == 1
    assert "no such file" in str(res.exception)


_QUICK_EXIT = """
import atexit, gc, sys
gc.disable()  # no collection before exit: only the interpreter's final one
from gazeprep.contract.command import quick_exit
n = atexit._ncallbacks()
if sys.argv[1] == "quick":
    quick_exit()
    quick_exit()
print(atexit._ncallbacks() - n)
class Cycle:
    def __del__(self):
        print("collected at exit", flush=True)
c = Cycle()
c.me = c
del c  # garbage in a reference cycle: only a collection finds it
"""


@pytest.mark.parametrize(("mode", "printed"), [("plain", ["0", "collected at exit"]),
                                               ("quick", ["1"])])
def test_quick_exit_skips_the_final_collection(mode, printed) -> None:
    # registered once however often it is called; at exit, what is left is frozen instead of
    # walked by the interpreter's final collection (which finds the cycle without it)
    got = run("-c", _QUICK_EXIT, mode)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == printed


@pytest.mark.parametrize("tool", ["gazeprep", "gradseg"])
def test_ctrl_c_during_a_command_says_interrupted(tool, tmp_path, monkeypatch, capsys) -> None:
    # typer turns the KeyboardInterrupt into exit code 130 on its own; main says why
    import importlib

    cli = importlib.import_module(f"{tool}.cli")

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    if tool == "gazeprep":
        import gazeprep.ingest

        monkeypatch.setattr(gazeprep.ingest, "find_inputs", ctrl_c)
        argv = ["ingest", str(tmp_path), "--out", str(tmp_path / "out")]
    else:
        import gradseg.checkpoint

        monkeypatch.setattr(gradseg.checkpoint, "load_model", ctrl_c)
        argv = ["eval", "--checkpoint", str(tmp_path / "m.pt"), "--cache", str(tmp_path)]
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 130
    assert capsys.readouterr().err.strip().endswith(f"{tool}: interrupted")
