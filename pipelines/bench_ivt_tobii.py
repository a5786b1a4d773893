"""Check ``--detector ivt --preset tobii`` against Tobii's own per-sample labels.

Reads a Tobii Pro Lab data export (exported with a Tobii I-VT fixation filter applied, so that
every sample carries ``Eye movement type``) with gazeprep's reader, runs gazeprep's Tobii I-VT
(:func:`gazeprep.detect.tobii.classify`) on the same samples and scores it sample by sample
against Tobii's labels: agreement (%) and Cohen's kappa over the four labels (``Fixation``,
``Saccade``, ``Unclassified``, ``EyesNotFound``), and the same for fixation / not fixation.
Only the eye tracker's samples on an image are scored (the viewings the detector sees).

The export must have been made with Tobii's default I-VT settings ("Tobii I-VT (Fixation)")
for the preset's defaults to apply; its ``Recording Fixation filter name`` is printed.

Usage::

    .venv/bin/python pipelines/bench_ivt_tobii.py EXPORT.tsv [EXPORT2.tsv ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two label arrays of equal length."""
    labels = np.union1d(a, b)
    po = float(np.mean(a == b))
    pe = float(sum(np.mean(a == k) * np.mean(b == k) for k in labels))
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def score(path: str) -> dict:
    """Agreement and kappa of the preset's labels with Tobii's on one export."""
    from gazeprep.detect.tobii import LABELS, classify
    from gazeprep.read import read
    from gazeprep.read.options import IngestOptions

    opts = IngestOptions(format="tobii-prolab", detector="ivt", preset="tobii").with_preset()
    rec = read(path, opts)
    ours, theirs = [], []
    for se, lab in zip(rec.series, rec.labels, strict=True):
        c = classify(se, opts, rec.screen_px)
        ours.append(np.asarray(LABELS, dtype=object)[c["labels"]])
        theirs.append(np.asarray([x or "" for x in lab], dtype=object))
    a, b = np.concatenate(ours).astype(str), np.concatenate(theirs).astype(str)
    scored = b != ""
    a, b = a[scored], b[scored]
    fa, fb = a == "Fixation", b == "Fixation"
    return {
        "file": path, "filter": rec.filter_name,
        "samples": int(a.size), "agreement_pct": 100 * float(np.mean(a == b)),
        "kappa": kappa(a, b), "fixation_agreement_pct": 100 * float(np.mean(fa == fb)),
        "fixation_kappa": kappa(fa, fb),
        "confusion": {f"{x}->{y}": int(np.sum((b == x) & (a == y)))
                      for x in LABELS for y in LABELS if np.any((b == x) & (a == y))},
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("exports", nargs="+", help="Tobii Pro Lab data export(s) (TSV)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    rows = [score(p) for p in args.exports]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return
    for r in rows:
        print(f"{r['file']}\n  Tobii's filter: {r['filter']}; {r['samples']:,} samples scored")
        print(f"  agreement {r['agreement_pct']:.2f} %, Cohen's kappa {r['kappa']:.3f} "
              f"(4 labels); fixation vs not: {r['fixation_agreement_pct']:.2f} %, kappa "
              f"{r['fixation_kappa']:.3f}")
        print("  Tobii -> ours: " + ", ".join(f"{k} {v}" for k, v in r["confusion"].items()))


if __name__ == "__main__":
    main()
