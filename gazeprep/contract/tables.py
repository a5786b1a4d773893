"""Tables for people and for files: a rich table in a terminal, plain Markdown elsewhere.

Rich lays a table out for the console's width, and a console that is not a terminal (a pipe,
a log file, CI) is 80 columns wide: numbers were cut (``66,8…``). Where the output is not a
terminal, :func:`print_table` writes the same cells as a Markdown table instead, never cut,
readable as text and by Markdown tools; in a terminal too narrow for a wide table, each row is
written as ``column: value`` lines (:func:`long_rows`).

>>> from rich.table import Table
>>> t = Table(title="demo")
>>> t.add_column("file"); t.add_column("kept", justify="right")
>>> t.add_row("a.asc", "1,234,567")
>>> print(markdown(t))
**demo**
<BLANKLINE>
| file | kept |
|---|---:|
| a.asc | 1,234,567 |
"""

from __future__ import annotations


def _plain(cell) -> str:
    """A cell's text without rich markup or styles (markup strings are parsed)."""
    from rich.text import Text

    if isinstance(cell, Text):
        return cell.plain
    try:
        return Text.from_markup(str(cell)).plain
    except Exception:  # noqa: BLE001 - text that merely looks like markup: as it is
        return str(cell)


def _cells(table) -> tuple[list[str], list[list[str]], list[str] | None]:
    """(header, rows, footer or None) of a rich table, as plain strings."""
    header = [_plain(c.header) for c in table.columns]
    columns = [[_plain(v) for v in c.cells] for c in table.columns]
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    footer = [_plain(c.footer) for c in table.columns] if table.show_footer else None
    return header, rows, footer


def markdown(table) -> str:
    """The table as Markdown: its title in bold, a header row, the rows, the footer row and
    the caption; ``|`` inside a cell is escaped."""
    header, rows, footer = _cells(table)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    align = ["---:" if c.justify == "right" else "---" for c in table.columns]
    out = [f"**{_plain(table.title)}**", ""] if table.title else []
    out += [line(header), "|" + "|".join(align) + "|", *map(line, rows)]
    if footer:
        out.append(line(footer))
    if table.caption:
        out += ["", _plain(table.caption)]
    return "\n".join(out)


def long_rows(table) -> str:
    """The table as one block of ``column: value`` lines per row (for narrow terminals)."""
    header, rows, footer = _cells(table)
    width = max(map(len, header), default=0)
    blocks = [_plain(table.title)] if table.title else []
    for row in rows + ([footer] if footer else []):
        blocks.append("\n".join(f"  {h:<{width}}  {v}" for h, v in zip(header, row, strict=True)))
    return "\n\n".join(blocks)


def print_table(table, console=None, *, min_width: int = 0) -> None:
    """Print ``table`` on ``console`` (default: stdout): rich in a terminal at least
    ``min_width`` columns wide, ``column: value`` lines in a narrower one, Markdown when the
    console is not a terminal."""
    from rich.console import Console

    console = console or Console()
    if not console.is_terminal:
        console.file.write(markdown(table) + "\n")
    elif console.width < min_width:
        console.print(long_rows(table), markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(table)
