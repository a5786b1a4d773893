"""gradseg: Track Attention U-Net training on gaze track maps read from a gazeprep Zarr cache.

gradseg meets gazeprep only through the on-disk cache format; it never imports gazeprep.
"""

__version__ = "0.1.0"
