"""Tables: rich in a terminal, Markdown (never cut) elsewhere, long rows in a narrow terminal."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from gazeprep.contract.tables import print_table


def _table(n_cols: int = 12) -> Table:
    t = Table(title="wide [bold]table[/bold]", show_footer=True)
    for k in range(n_cols):
        t.add_column(f"column {k}", justify="right", footer=f"{k * 1000:,}")
    t.add_row(*(f"{66_812_345.25 + k:,.2f}" for k in range(n_cols)))
    t.add_row(*(f"[red]a|b {k}[/red]" for k in range(n_cols)))
    return t


def test_not_a_terminal_gives_markdown_with_every_number_whole():
    out = io.StringIO()
    print_table(_table(), Console(file=out, width=80))  # a file: not a terminal
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0] == "**wide table**"
    assert lines[2].startswith("| column 0 | column 1 |") and lines[3].startswith("|---:|")
    assert "| 66,812,345.25 | 66,812,346.25 |" in text  # never cut at 80 columns
    assert "…" not in text and "[red]" not in text and "a\\|b 0" in text
    assert lines[-1].startswith("| 0 | 1,000 | 2,000 |")  # the footer


def test_narrow_terminal_gives_one_block_per_row():
    out = io.StringIO()
    print_table(_table(), Console(file=out, width=60, force_terminal=True, color_system=None),
                min_width=120)
    text = out.getvalue()
    assert "column 11  66,812,356.25" in text and "…" not in text


def test_wide_terminal_gives_the_rich_table():
    out = io.StringIO()
    print_table(_table(3), Console(file=out, width=200, force_terminal=True, color_system=None))
    assert "┃      column 0 ┃" in out.getvalue()
