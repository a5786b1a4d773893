"""The start of an input file, as the readers' ``sniff`` functions look at it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

#: Bytes read from the start of a file to tell its format.
HEAD_BYTES = 65536


@dataclass
class Probe:
    """The first :data:`HEAD_BYTES` of a file, decoded on demand.

    Parameters
    ----------
    path : Path
        The file.
    head : bytes
        Its first bytes.
    """

    path: Path
    head: bytes

    @classmethod
    def of(cls, path: Path) -> Probe:
        """Read the head of ``path``."""
        with open(path, "rb") as fh:
            return cls(path, fh.read(HEAD_BYTES))

    @cached_property
    def text(self) -> str:
        """The head as text, decoded as the readers decode tables (BOM, UTF-16, Latin-1 lines).

        Raises
        ------
        GazeprepError
            Binary content, UTF-16 without a byte-order mark.
        """
        from gazeprep.read.delimited import decode_text

        return decode_text(self.head, str(self.path), head=True, what="an EyeLink ASC, a "
                           "fixation report or a sample CSV/TSV").data.decode("utf-8", "replace")

    @cached_property
    def first_line(self) -> str:
        """The first non-blank line of :attr:`text`."""
        return self.text.lstrip().split("\n", 1)[0]

    @cached_property
    def header(self) -> list[str]:
        """The fields of :attr:`first_line` as a table header (separator sniffed)."""
        from gazeprep.read.delimited import header_fields, sniff_separator

        first = self.first_line
        return [c.strip() for c in header_fields(first, sniff_separator(first))]
