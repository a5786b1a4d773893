"""The ``quality.parquet`` table: its schema, rows -> frame, and the per-session summary."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gazeprep.quality.metrics import TrialQuality


def quality_schema() -> dict[str, Any]:
    """Column -> polars dtype of ``quality.parquet``: one row per session x trial x eye.

    ``start_ms``/``end_ms``: the trial window; ``recorded_ms``: the part of it inside recording
    blocks; ``rate_hz``: the header's rate (null if unknown), ``measured_rate_hz``: 1000 /
    median sample interval; ``samples_expected`` (recorded time x rate), ``samples_present``
    (sample lines), ``samples_valid`` (with a position for this eye); ``loss_pct`` = 100 x (1 -
    valid / expected), ``missing_pct`` = 100 x (present - valid) / present; ``blinks``,
    ``blink_ms`` (inside the window); the last validation at or before the trial start
    (``validation_*``, null if none); ``fixations_kept`` and ``fixations_dropped`` (reason,
    count); ``flagged`` and ``flag_reasons`` (keys of :data:`REASONS`).
    """
    import polars as pl

    f64, i64 = pl.Float64, pl.Int64
    return {
        "session": pl.String, "trial": pl.String, "eye": pl.String,
        "start_ms": f64, "end_ms": f64, "recorded_ms": f64,
        "rate_hz": f64, "measured_rate_hz": f64,
        "samples_expected": i64, "samples_present": i64, "samples_valid": i64,
        "loss_pct": f64, "missing_pct": f64, "blinks": pl.Int32, "blink_ms": f64,
        "validation_time_ms": f64, "validation_result": pl.String,
        "validation_avg_deg": f64, "validation_max_deg": f64, "validation_offset_deg": f64,
        "fixations_kept": pl.Int32,
        "fixations_dropped": pl.List(pl.Struct({"reason": pl.String, "count": pl.Int32})),
        "flagged": pl.Boolean, "flag_reasons": pl.List(pl.String),
    }


def quality_frame(rows: Sequence[TrialQuality]):
    """The ``quality.parquet`` table of :func:`session_quality` rows (several sessions may be
    concatenated); NaN and infinite numbers are stored as null."""
    import polars as pl

    schema = quality_schema()
    lists = ("fixations_dropped", "flagged", "flag_reasons")
    names = [k for k in schema if k not in lists]
    # column by column (thousands of rows): one list per column, NaN/inf -> null in polars
    data: dict[str, list] = {k: [getattr(q, k) for q in rows] for k in names}
    data["flagged"] = [bool(q.flag_reasons) for q in rows]
    # polars builds thousands of small lists from Python lists slowly: joined, then split
    data["flag_reasons"] = [_SEP.join(q.flag_reasons) for q in rows]
    frame = pl.DataFrame(data, schema={**{k: schema[k] for k in names},
                                       "flagged": pl.Boolean, "flag_reasons": pl.String})
    floats = [k for k in names if schema[k] == pl.Float64]
    reasons = pl.col("flag_reasons")
    frame = frame.with_columns(
        *(pl.when(pl.col(k).is_finite()).then(pl.col(k)).alias(k) for k in floats),
        pl.when(reasons == "").then(pl.lit([], schema["flag_reasons"]))
        .otherwise(reasons.str.split(_SEP)).alias("flag_reasons"))
    dropped = _dropped_column(rows, schema["fixations_dropped"])
    return frame.with_columns(dropped).select(list(schema))


#: Joins a row's flag reasons (keys of REASONS: never this character) on their way to polars.
_SEP = "\x1f"


def _dropped_column(rows: Sequence[TrialQuality], dtype):
    """``fixations_dropped`` (a list of (reason, count) per row), built from one flat table:
    polars builds thousands of small struct lists from Python objects slowly."""
    import polars as pl

    row, reason, count = [], [], []
    for i, q in enumerate(rows):
        for r, n in q.fixations_dropped.items():
            row.append(i)
            reason.append(r)
            count.append(n)
    flat = pl.DataFrame({"row": row, "reason": reason, "count": count},
                        schema={"row": pl.UInt32, "reason": pl.String, "count": pl.Int32})
    lists = flat.group_by("row", maintain_order=True).agg(
        pl.struct("reason", "count").alias("fixations_dropped"))
    every = pl.DataFrame({"row": pl.arange(0, len(rows), eager=True, dtype=pl.UInt32)})
    joined = every.join(lists, on="row", how="left", maintain_order="left")
    return joined["fixations_dropped"].fill_null(pl.lit([], dtype=dtype)).cast(dtype)


def session_summary(frame) -> list[dict[str, Any]]:
    """Per session, for ``ingest.json``: trials, flagged trials (any eye), worst validation,
    overall loss (1 - valid / expected, over the trials with an expectation), blinks, rates,
    fixations kept and dropped."""
    import polars as pl

    if frame.is_empty():
        return []
    has = pl.col("samples_expected").is_not_null()
    out = frame.group_by("session", maintain_order=True).agg(
        pl.col("trial").n_unique().alias("trials"),
        pl.col("trial").filter(pl.col("flagged")).n_unique().alias("trials_flagged"),
        pl.col("validation_avg_deg").max().alias("validation_avg_deg_worst"),
        pl.col("validation_max_deg").max().alias("validation_max_deg_worst"),
        (100.0 * (1.0 - pl.col("samples_valid").filter(has).sum()
                  / pl.col("samples_expected").filter(has).sum())).clip(0.0, 100.0)
        .alias("loss_pct"),
        pl.col("blinks").sum().alias("blinks"),
        pl.col("rate_hz").drop_nulls().unique().sort().alias("rate_hz"),
        pl.col("measured_rate_hz").median().alias("measured_rate_hz"),
        pl.col("fixations_kept").sum().alias("fixations_kept"),
        pl.col("fixations_dropped").explode().struct.field("count").sum()
        .alias("fixations_dropped"),
    )
    rows = out.to_dicts()
    for r in rows:  # 0/0 loss (no expectation anywhere) is unknown, not a number
        if r["loss_pct"] is not None and not math.isfinite(r["loss_pct"]):
            r["loss_pct"] = None
    return rows


#: The columns ``gazeprep qc`` and ``render --exclude-flagged`` need.
NEEDED = ("session", "trial", "eye", "flagged", "flag_reasons")


def read_quality(gaze_dir) -> tuple[Any, dict]:
    """``quality.parquet`` of an ingest output, checked, and the ``quality`` section of its
    ``ingest.json`` (thresholds, reasons; ``{}`` when absent).

    The file must match the sha256 that ``ingest.json`` records for it (a file changed since
    ingest, or left half replaced, is refused).

    Raises
    ------
    GazeprepError
        No ``quality.parquet`` (an ingest output from before gaze quality: run ingest again),
        an unreadable file or one without the :data:`NEEDED` columns, a sha256 mismatch.
    """
    import hashlib
    import io
    import json
    from pathlib import Path

    import polars as pl

    from gazeprep.errors import GazeprepError

    gaze_dir = Path(gaze_dir)
    path = gaze_dir / "quality.parquet"
    if not path.is_file():
        raise GazeprepError("no quality.parquet here; expected the output of `gazeprep ingest` "
                            "(run it again: outputs of older versions have none)", file=gaze_dir)
    data = path.read_bytes()
    doc: dict = {}
    record = gaze_dir / "ingest.json"
    if record.is_file():
        try:
            doc = json.loads(record.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise GazeprepError("ingest.json is not readable JSON; run `gazeprep ingest` again",
                                file=record) from exc
        doc = doc if isinstance(doc, dict) else {}
        want = ((doc.get("outputs") or {}).get("quality.parquet") or {}).get("sha256")
        if want is not None and want != hashlib.sha256(data).hexdigest():
            raise GazeprepError("quality.parquet does not match the sha256 that ingest.json "
                                "records for it (changed since ingest); run `gazeprep ingest` "
                                "again", file=path)
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - polars raises several types for a bad file
        raise GazeprepError(f"not a readable Parquet file ({type(exc).__name__})",
                            file=path) from exc
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise GazeprepError(f"quality.parquet lacks columns {missing}; expected the ingest "
                            "output", file=path)
    section = doc.get("quality") if isinstance(doc.get("quality"), dict) else {}
    return frame, section


def flagged_tracks(quality, fixations) -> set[tuple[str, str | None]]:
    """The ``(session, trial)`` of every track with a flagged quality row for its eye.

    A track's session is the file's stem, or ``<stem>:<eye>`` with ``ingest --eye both``;
    quality rows are per file stem and eye. The eye of a ``<stem>`` track is the eye of its
    fixations (``fixations.parquet``), so a binocular file whose right eye was lost leaves
    out only the tracks made from the right eye.

    Parameters
    ----------
    quality : polars.DataFrame
        ``quality.parquet`` (:data:`NEEDED` columns).
    fixations : polars.DataFrame
        Columns ``session``, ``trial``, ``eye`` (``fixations.parquet``).
    """
    import polars as pl

    bad = quality.filter(pl.col("flagged").fill_null(False)).select(
        pl.col("session").cast(pl.String), pl.col("trial").cast(pl.String),
        pl.col("eye").cast(pl.String)).unique()
    if bad.is_empty():
        return set()
    tracks = fixations.select(
        pl.col("session").cast(pl.String), pl.col("trial").cast(pl.String),
        pl.col("eye").cast(pl.String).fill_null("")).unique()
    by_eye = pl.col("session").str.ends_with(pl.lit(":") + pl.col("eye"))
    stem = pl.when(by_eye & (pl.col("eye") != "")).then(pl.col("session").str.slice(
        0, pl.col("session").str.len_chars() - 2)).otherwise(pl.col("session"))
    tracks = tracks.with_columns(stem.alias("_stem"))
    hit = tracks.join(bad, left_on=["_stem", "trial", "eye"], right_on=["session", "trial", "eye"],
                      how="inner", nulls_equal=True)
    return {(s, t) for s, t in hit.select("session", "trial").unique().iter_rows()}
