"""The ``gazeprep`` console script: one sub-command per stage.

Heavy libraries (numba, polars, zarr, torch) are imported inside the commands so that
``gazeprep --help`` is instant.
"""

from __future__ import annotations

import sys
import traceback

import typer

from gazeprep.commands.export import export
from gazeprep.commands.ingest import ingest
from gazeprep.commands.qc import qc
from gazeprep.commands.render import render
from gazeprep.commands.score import score
from gazeprep.commands.show import show
from gazeprep.commands.simulate import simulate
from gazeprep.commands.split import split
from gazeprep.contract.command import (
    VERBOSE_HELP,
    Command,
    Group,
    interrupted,
    quick_exit,
    say_interrupted,
)
from gazeprep.contract.errors import reason

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
    quick_exit()
    args = list(sys.argv[1:] if argv is None else argv)
    # --verbose is accepted anywhere on the line, not only before the sub-command.
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    try:
        if args[:1] == ["ingest"]:  # its workers' start overlaps what follows
            from gazeprep.commands.ingest import start_workers_early

            start_workers_early(typer.main.get_command(app).commands["ingest"], args[1:])
        # standalone mode: typer itself turns usage errors into exit code 2.
        app(args=args, prog_name="gazeprep")
    except KeyboardInterrupt:
        say_interrupted("gazeprep")
        sys.exit(130)
    except SystemExit as exc:  # typer's exit 130 for Ctrl-C during a command
        if exc.code == 130 and interrupted(exc):
            say_interrupted("gazeprep")
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line and exit code 1
        if verbose:
            traceback.print_exc()
        print(f"gazeprep: error: {reason(exc)}", file=sys.stderr)
        if not verbose:
            print("(run again with --verbose for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
