"""gazeprep: raw eye-tracker logs -> fixations and gaze tracks (Parquet) -> track maps (Zarr)."""

__version__ = "0.1.0"
