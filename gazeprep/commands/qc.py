"""`gazeprep qc`: did the gaze deserve trust? The gaze quality of an ingest output, per session
(``-v``: per trial and eye, with the reasons of each flag), as JSON, or as one picture per
session."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from gazeprep.commands.options import GAZE_DIR
from gazeprep.contract.tables import print_table


def qc(
    data: Path = typer.Argument(GAZE_DIR, help="Ingest output folder (holds quality.parquet)."),
    per_trial: bool = typer.Option(
        False, "--per-trial", "-v", help="One row per trial and eye, with the flag reasons."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the thresholds, per-session summaries and every row as "
                              "JSON on stdout."),
    plot: Path | None = typer.Option(
        None, "--plot", metavar="OUT_DIR",
        help="Write one picture per session there (qc_<session>.png): sample loss per trial "
             "as bars, the loss threshold, validation errors as markers."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace pictures already in --plot OUT_DIR."),
) -> None:
    """Show the gaze quality that ingest measured: validation error, sample loss, blinks,
    sampling rate, fixations kept and dropped, and which trials are flagged."""
    import json

    from rich.console import Console

    from gazeprep.quality import REASONS, session_summary
    from gazeprep.quality.table import read_quality

    frame, section = read_quality(data)
    thr = _thresholds(section)
    summary = session_summary(frame)
    if as_json:
        doc = {"thresholds": thr.__dict__, "reasons": REASONS, "sessions": summary,
               "rows": frame.to_dicts()}
        print(json.dumps(doc, indent=1, default=str))
    else:
        console = Console()
        if frame.is_empty():
            console.print(f"no quality rows in {data}: ingest measures gaze quality on the "
                          "samples of EyeLink ASC/EDF, Tobii, SMI and Pupil sample exports and "
                          "sample CSVs, not on fixation reports, event or fixation exports, "
                          "nor Gazepoint CSVs", soft_wrap=True)
        else:
            print_table(_session_table(summary, thr), console)
            if per_trial:
                for session, rows in frame.group_by("session", maintain_order=True):
                    print_table(_trial_table(session[0], rows), console, min_width=120)
            _print_reasons(console, frame)
    if plot is not None:
        written = _plots(frame, thr, plot, overwrite)
        Console(stderr=True).print(f"{len(written)} picture(s) -> {plot}")


def _thresholds(section: dict):
    """The thresholds ingest used (its ``ingest.json``), else the defaults."""
    from gazeprep.quality import Thresholds

    given = section.get("thresholds") if isinstance(section, dict) else None
    if not isinstance(given, dict):
        return Thresholds()
    names = Thresholds.__dataclass_fields__
    try:
        return Thresholds(**{k: float(v) for k, v in given.items() if k in names})
    except (TypeError, ValueError):
        return Thresholds()


def _num(v, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def _session_table(summary: list[dict], thr):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"gaze quality (flag: validation avg > {thr.validation_avg_deg:g} or "
                        f"max > {thr.validation_max_deg:g} deg, loss > {thr.loss_pct:g} %, "
                        f"rate off by > {thr.rate_deviation_pct:g} %)",
                  caption="flagged: trials flagged / trials; validation: worst average / "
                          "maximum error (deg); Hz: header / measured rate; fixations: kept / "
                          "dropped")
    table.add_column("session", overflow="fold")
    for name in ("flagged", "validation", "loss %", "blinks", "Hz", "fixations"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for s in summary:
        flagged = f"{s['trials_flagged']}/{s['trials']}"
        table.add_row(
            escape(str(s["session"])), f"[red]{flagged}[/red]" if s["trials_flagged"] else flagged,
            f"{_num(s['validation_avg_deg_worst'])}/{_num(s['validation_max_deg_worst'])}",
            _num(s["loss_pct"], ".1f"), str(s["blinks"]),
            f"{','.join(f'{r:g}' for r in s['rate_hz']) or '-'}/"
            f"{_num(s['measured_rate_hz'], '.0f')}",
            f"{s['fixations_kept']}/{s['fixations_dropped'] or 0}")
    return table


def _trial_table(session: str, rows):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{escape(str(session))}: per trial and eye")
    for name in ("trial", "eye", "validation deg", "loss %", "blinks", "Hz", "kept", "dropped",
                 "flags"):
        numeric = name in ("loss %", "blinks", "Hz", "kept")
        table.add_column(name, justify="right" if numeric else "left",
                         no_wrap=numeric or name in ("eye", "validation deg"),
                         min_width=len(name), overflow="fold")
    for r in rows.iter_rows(named=True):
        val = "-" if r["validation_result"] is None else (
            f"{r['validation_result']} {_num(r['validation_avg_deg'])}/"
            f"{_num(r['validation_max_deg'])}")
        loss = r["loss_pct"] if r["loss_pct"] is not None else r["missing_pct"]
        dropped = ", ".join(f"{d['reason']} {d['count']}" for d in r["fixations_dropped"] or [])
        flags = ", ".join(r["flag_reasons"] or [])
        table.add_row(escape(str(r["trial"])), r["eye"] or "-", val, _num(loss, ".1f"),
                      str(r["blinks"]), _num(r["measured_rate_hz"], ".0f"),
                      str(r["fixations_kept"]), escape(dropped) or "-",
                      f"[red]{flags}[/red]" if flags else "-")
    return table


def _print_reasons(console, frame) -> None:
    """What each flag reason that occurs means."""
    from gazeprep.quality import REASONS

    seen = sorted({r for rs in frame["flag_reasons"].to_list() for r in rs or []})
    for r in seen:
        console.print(f"  {r}: {REASONS.get(r, '?')}")


def _plots(frame, thr, out: Path, overwrite: bool) -> list[Path]:
    """One PNG per session in ``out``, each written whole (temporary file, then renamed)."""
    import os

    from gazeprep.errors import GazeprepError
    from gazeprep.inspect.quality_plot import plot_session

    if out.exists() and not out.is_dir():
        raise GazeprepError("--plot: exists and is not a folder", file=out)
    sessions = [(s[0], rows) for s, rows in frame.group_by("session", maintain_order=True)]
    names = [out / f"qc_{re.sub(r'[^A-Za-z0-9._-]', '_', str(s))}.png" for s, _ in sessions]
    present = [p for p in names if os.path.lexists(p)]
    if present and not overwrite:
        raise GazeprepError(f"{present[0].name} is already there; pass --overwrite to replace "
                            "it, or choose another --plot folder", file=out)
    out.mkdir(parents=True, exist_ok=True)
    for (_, rows), path in zip(sessions, names, strict=True):
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            plot_session(rows, thr, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return names
