"""The command-line conventions both console scripts share: ``--verbose`` listed on every
command (each ``main`` reads it anywhere on the line) and on/off flags shown without a type.

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
