"""The ``gazeprep`` console script: one sub-command per stage.

Heavy libraries (numba, polars, zarr, torch) are imported inside the commands so that
``gazeprep --help`` is instant.
"""

from __future__ import annotations

import sys
import traceback

import typer
from typer.core import TyperCommand, TyperGroup

from gazeprep.commands.export import export
from gazeprep.commands.ingest import ingest
from gazeprep.commands.qc import qc
from gazeprep.commands.render import render
from gazeprep.commands.score import score
from gazeprep.commands.show import show
from gazeprep.commands.simulate import simulate
from gazeprep.commands.split import split

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
    """A gazeprep sub-command: ``--verbose`` listed in its help (:func:`main` reads it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.append(_verbose_option())

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))


class Group(TyperGroup):
    """The ``gazeprep`` group: flags shown without a type."""

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))


app = typer.Typer(
    name="gazeprep",
    cls=Group,
    help="Eye-tracking gaze -> fixations, ordered gaze tracks and multi-level track maps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
) -> None:
    """Eye-tracking gaze -> fixations, ordered gaze tracks and multi-level track maps."""


app.command("ingest", cls=Command)(ingest)
app.command("qc", cls=Command)(qc)
app.command("render", cls=Command)(render)
app.command("score", cls=Command)(score)
app.command("show", cls=Command)(show)
app.command("simulate", cls=Command)(simulate)
app.command("split", cls=Command)(split)
app.command("export", cls=Command)(export)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: usage errors exit 2, failures exit 1 with a one-line cause on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --verbose is accepted anywhere on the line, not only before the sub-command.
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    try:
        # standalone mode: typer itself turns usage errors into exit code 2.
        app(args=args, prog_name="gazeprep")
    except KeyboardInterrupt:
        print("gazeprep: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line and exit code 1
        if verbose:
            traceback.print_exc()
        print(f"gazeprep: error: {exc}", file=sys.stderr)
        if not verbose:
            print("(run again with --verbose for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
