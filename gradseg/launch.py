"""The ``gradseg`` console script's entry point (see :mod:`gazeprep.contract.launch`)."""

from __future__ import annotations

from gazeprep.contract.launch import launch


def main() -> None:
    """The ``gradseg`` console script."""
    launch("gradseg.cli", "gradseg")
