"""The version of gradseg (its own module, so that modules of the package can name it without
importing the package back)."""

__version__ = "0.1.0"
