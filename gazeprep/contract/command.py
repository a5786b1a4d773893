"""The command-line conventions both console scripts share: ``--verbose`` listed on every
command (each ``main`` reads it anywhere on the line), on/off flags shown without a type, and a
quick exit (:func:`quick_exit`).

Example
-------
>>> import typer
>>> app = typer.Typer(cls=Group)
>>> @app.command(cls=Command)
... def run(fast: bool = False) -> None:
...     pass
"""

from __future__ import annotations

import typer
from typer.core import TyperCommand, TyperGroup

VERBOSE_HELP = "Show the full traceback on errors."


def quick_exit() -> None:
    """At exit, after every other exit handler, freeze what is still alive out of the cyclic
    garbage collector (``gc.freeze``), so that the interpreter's final collection does not walk
    the libraries' objects and the command's results only to have the OS free them.

    That collection was 60-90 ms of every ``gazeprep ingest`` (with polars, rich and the
    results of a few files loaded; measured with ``strace -tt``: no system call between the
    last exit handler and the process's end). Every file is written and closed before, and
    objects reachable only through reference cycles were never promised a ``__del__`` at exit.
    Call it first thing in ``main`` (exit handlers run last-registered first); calling it again
    does nothing.
    """
    global _quick_exit
    if not _quick_exit:
        import atexit
        import gc

        atexit.register(gc.freeze)
        _quick_exit = True


_quick_exit = False


def in_command() -> bool:
    """Whether this process runs a console command (its ``main`` called :func:`quick_exit`):
    no user code shares it, so a process-wide choice made for speed touches nobody else's
    work (:mod:`gazeprep._numba`)."""
    return _quick_exit


def say_interrupted(prog: str) -> None:
    """Say on stderr that the command ``prog`` was interrupted (Ctrl-C), and keep the rest of
    the process's exit quiet about errors in finalisers (``sys.unraisablehook``): a half-built
    object freed as the command unwinds printed a traceback (torch's DataLoader iterator
    interrupted while it started its workers: "Exception ignored in ... __del__"), though this
    line says why the command ends."""
    import sys

    sys.unraisablehook = lambda _unraisable: None
    print(f"{prog}: interrupted", file=sys.stderr)


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` comes from Ctrl-C: typer turns a KeyboardInterrupt into exit code 130
    (a SystemExit whose chain holds the KeyboardInterrupt), and ``main`` then says so."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _plain_flags(params: list) -> list:
    """On/off flags get no type in ``--help`` (typer would print ``<bool>``)."""
    for p in params:
        if getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
    return params


def _verbose_option():
    """A ``--verbose`` flag whose value the command function does not receive."""
    probe = typer.Typer()

    @probe.command()
    def _probe(verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP)) -> None:
        """Only to build the option."""

    (option,) = [p for p in typer.main.get_command(probe).params if p.name == "verbose"]
    option.expose_value = False
    return option


class Command(TyperCommand):
    """A sub-command with ``--verbose`` listed in its help (the script's ``main`` reads it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.append(_verbose_option())

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))


class Group(TyperGroup):
    """A command group: flags shown without a type."""

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))
